"""Offer-book search latency through the API with 100,000 active listings on PostgreSQL.

One command:  DATABASE_URL=postgres://... .venv/bin/python bench/listings.py [--listings 100000]
(or `make bench-listings`). Needs PostgreSQL: a throwaway database `bench_listings_<pid>` is
created next to the one DATABASE_URL names, migrated, seeded and dropped. Seeds makers with
wallets, reputations and KYC levels, and listings over 12 asset pairs (a third of them on
the busiest pair, ETH-TEST), 80 % fixed-price and 20 % market-relative, with terms drawn
from a small vocabulary. Then, in-process with DRF's APIClient (the full Django stack:
middleware, authentication, throttling on a local-memory cache, serialisation), warms up
and times `--requests` requests of each typical search, varying its parameters.
The offer book's read cache (marketplace.cache, local memory here) answers a search it has
seen since the last change; each p95 row's note says how many requests it answered and the
p95 of the others (the misses, which run the SQL). `--explain` prints the plans first.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import Row, emit, load, machine, median, pct, print_table, throwaway_database

# The vocabulary of the seeded terms: a word is in about a quarter of them.
WORDS = [
    "fast",
    "bank",
    "transfer",
    "evening",
    "weekend",
    "trusted",
    "escrow",
    "quick",
    "reply",
    "online",
    "support",
    "patient",
    "beginner",
    "welcome",
    "large",
    "orders",
    "small",
    "amounts",
    "instant",
    "payment",
    "verified",
    "trader",
    "regular",
    "morning",
    "friendly",
    "reliable",
    "flexible",
    "negotiable",
    "discount",
    "bulk",
    "premium",
]
# (base, quote, share of listings, oracle-free fixed price around which prices spread)
PAIRS = [
    (("ETH", "local-a"), ("TEST", "local-b"), 0.20),
    (("ETH", "local-b"), ("TEST", "local-a"), 0.13),
    (("TEST", "local-b"), ("ETH", "local-a"), 0.08),
    (("ETH", "local-a"), ("USDC", "local-a"), 0.08),
    (("ETH", "local-b"), ("USDC", "local-a"), 0.07),
    (("WBTC", "local-a"), ("ETH", "local-b"), 0.07),
    (("WBTC", "local-a"), ("TEST", "local-b"), 0.07),
    (("WBTC", "local-a"), ("USDC", "local-a"), 0.06),
    (("DAI", "local-b"), ("TEST", "local-a"), 0.06),
    (("DAI", "local-b"), ("ETH", "local-a"), 0.06),
    (("USDC", "local-a"), ("DAI", "local-b"), 0.06),
    (("TEST", "local-a"), ("DAI", "local-b"), 0.06),
]
# Issue #15: every search shape under this at p95, in-process.
GOAL_P95_MS = 20.0
USD = {"ETH": "2000", "TEST": "1", "USDC": "1", "DAI": "1", "WBTC": "60000"}
DECIMALS = {"ETH": 18, "TEST": 6, "USDC": 6, "DAI": 18, "WBTC": 8}


def seed(count: int, rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Reputation, User, Wallet
    from chains.models import Asset
    from marketplace.models import Listing

    assets: dict[tuple[str, str], Asset] = {}
    for (symbol, network), _q, _s in PAIRS:
        for sym, net in ((symbol, network), (_q[0], _q[1])):
            if (sym, net) not in assets:
                assets[(sym, net)] = Asset.objects.create(
                    symbol=sym,
                    network=net,
                    decimals=DECIMALS[sym],
                    address=None if sym == "ETH" else "0x" + f"{len(assets):040x}",
                )
    makers = User.objects.bulk_create(
        [
            User(
                username=f"maker{i}",
                kyc_level=rng.choice(["none", "none", "basic", "verified"]),
            )
            for i in range(2000)
        ]
    )
    wallets = Wallet.objects.bulk_create(
        [Wallet(user=u, address="0x" + f"{u.pk:040x}", chain_id=31337) for u in makers]
    )
    Reputation.objects.bulk_create(
        [Reputation(user=u, completed_swaps=rng.randint(1, 200)) for u in makers[::2]]
    )
    address = {w.user_id: w.address for w in wallets}
    now = timezone.now()
    weights = [share for _b, _q, share in PAIRS]
    columns = (
        "maker_id, base_asset_id, quote_asset_id, amount, remaining, min_trade, max_trade, "
        "price, price_margin_pct, payout_address, refund_address, terms, state, "
        "hidden_reason, created_at, updated_at"
    )
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY marketplace_listing ({columns}) FROM STDIN") as copy,
    ):
        for _ in range(count):
            base_key, quote_key, _share = rng.choices(PAIRS, weights)[0]
            base, quote = assets[base_key], assets[quote_key]
            fair = Decimal(USD[base.symbol]) / Decimal(USD[quote.symbol])
            amount = Decimal(rng.randint(1, 10_000)) / 100
            maker = rng.choice(makers)
            market = rng.random() < 0.2
            price = None
            if not market:
                step = Decimal(1).scaleb(-min(quote.decimals, 8))
                price = (fair * Decimal(rng.randint(900, 1100)) / 1000).quantize(step)
            created = now - timedelta(minutes=rng.randint(0, 90 * 24 * 60))
            copy.write_row(
                (
                    maker.pk,
                    base.pk,
                    quote.pk,
                    amount,
                    amount,
                    amount / 10,
                    amount,
                    price,
                    Decimal(rng.randint(-300, 500)) / 100 if market else None,
                    address[maker.pk],
                    address[maker.pk],
                    " ".join(rng.sample(WORDS, rng.randint(3, 12))),
                    Listing.State.ACTIVE.value,
                    "",
                    created,
                    created,
                )
            )
    seconds = time.perf_counter() - started
    created_count = Listing.objects.count()
    return {"assets": assets, "created": created_count, "seed_seconds": seconds}


def publish_usd_prices() -> None:
    """Publish ``USD`` as the oracle's configured prices (market-relative listings need them),
    in this process's settings and in the cache every process reads."""
    from django.conf import settings
    from django.db import transaction

    from marketplace.tests.support import publish_prices

    class _Settings:
        def __setattr__(self, key, value):
            setattr(settings, key, value)

    # In a transaction: storing a price locks its candles (select_for_update).
    with transaction.atomic():
        publish_prices(_Settings(), {f"{s}-USD": p for s, p in USD.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--explain",
        action="store_true",
        help="diagnostics: before timing each search, print EXPLAIN (ANALYZE, BUFFERS) of "
        "every statement of one request of it (the timings are unchanged)",
    )
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench/listings.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-listings-"))
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every SQL string in memory: not production-like
    os.environ.pop("REDIS_URL", None)  # the cache is overridden to local memory below
    import django

    with throwaway_database("listings"):
        django.setup()
        rows = run(args)
    print_table(rows, title=f"\noffer book, {args.listings:,} listings, in-process")
    for row in rows:
        emit(row)


def run(args) -> list[Row]:
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings
    from rest_framework.test import APIClient

    rng = random.Random(args.seed)
    call_command("migrate", verbosity=0)
    overrides = override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        API_THROTTLE_RATES={"anon": "1000000/minute", "user": "1000000/minute"},
        ALLOWED_HOSTS=["testserver"],
    )
    overrides.enable()
    started = time.perf_counter()
    seeded = seed(args.listings, rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    setup = time.perf_counter() - started
    publish_usd_prices()

    api = APIClient()
    url = "/api/v1/listings/"
    busy = ["ETH-TEST", "WBTC-ETH", "ETH-USDC", "TEST-ETH", "DAI-TEST"]

    def by_pair():
        return {"pair": rng.choice(busy)}

    def by_pair_price():
        pair = rng.choice(["ETH-TEST", "ETH-USDC"])
        low = Decimal(rng.randint(1850, 2000))
        return {
            "pair": pair,
            "price_min": str(low),
            "price_max": str(low + 100),
            "ordering": "price",
        }

    def by_text():
        return {"q": " ".join(rng.sample(WORDS, rng.randint(1, 2)))}

    def by_pair_text_reputation():
        return {
            "pair": rng.choice(busy),
            "q": rng.choice(WORDS),
            "maker_min_completed": 50,
            "ordering": "reputation",
        }

    def by_pair_by_price():
        return {"pair": rng.choice(busy), "ordering": rng.choice(["price", "-price"])}

    searches = {
        "pair (newest first)": by_pair,
        "pair, by price": by_pair_by_price,
        "pair + price range, by price": by_pair_price,
        "text in terms": by_text,
        "pair + text + reputation >= 50, by reputation": by_pair_text_reputation,
    }
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    print(f"machine: {machine()}, PostgreSQL {pg_version}, load average {load()} at start")
    print(
        f"seeded {seeded['created']:,} active listings in {seeded['seed_seconds']:.1f} s "
        f"(setup with VACUUM ANALYZE {setup:.1f} s); {args.requests} requests per search"
    )
    rows = []
    for label, params in searches.items():
        if args.explain:
            _explain(label, api, url, params())
        # Uncached first (the framework beside its SQL), then as served, through the read
        # cache (marketplace.cache) over the same mix of parameters; the SQL floor is the
        # uncached pass's, as a cache hit sends none.
        with override_settings(READ_CACHE_SECONDS=0):
            cold, floors, _ = _measure(
                f"{label}, without the read cache", api, url, params, args.requests
            )
        served, _, counts = _measure(f"{label}, as served", api, url, params, args.requests)
        # A request answered from the read cache sends no SQL.
        misses = [t for t, n in zip(served, counts, strict=True) if n]
        hits = len(served) - len(misses)
        note = f"{hits}/{len(served)} from the read cache" + (
            f"; misses p95 {pct(misses, 0.95):.1f} ms" if misses else ""
        )
        sql = pct(floors, 0.95)
        if misses and pct(served, 0.95) >= GOAL_P95_MS:
            note += (
                f"; its SQL alone is {sql:.1f} ms at p95, over the goal (mostly the exact"
                " count of the matches; next: counts kept by trigger or a side table, README)"
                if sql >= GOAL_P95_MS
                else f"; the framework adds {pct(misses, 0.95) - sql:.1f} ms to its SQL"
                " (profiled: compiling its ORM statements, a fifth; the page's model"
                " instances and their serializer; next: SQL compiled once per search"
                " shape, the page read as values, README)"
            )
        print(f"    {note}")
        for q in (0.5, 0.95):
            rows.append(
                Row(
                    f"offer book p{q * 100:.0f} without the read cache: {label}",
                    pct(cold, q),
                    "ms",
                    pct(floors, q),
                    None,
                    False,
                    "",
                )
            )
        rows.append(
            Row(
                f"offer book p95 as served (read cache): {label}",
                pct(served, 0.95),
                "ms",
                sql,
                GOAL_P95_MS,
                False,
                note,
            )
        )
    print(f"load average {load()} at the end")
    overrides.disable()
    return rows


def _measure(
    what: str, api, url: str, params, requests: int
) -> tuple[list[float], list[float], list[int]]:
    """`requests` searches with `params()` after 20 for warm-up: per request the
    milliseconds, its SQL alone on the raw cursor (the floor) and its number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):  # warm-up: plans, caches, connection
        response = api.get(url, params())
        assert response.status_code == 200, response.content
    timings, floors, results, counts = [], [], [], []
    for _ in range(requests):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            response = api.get(url, params())
            timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content
        results.append(response.json()["count"])
        counts.append(len(queries.captured_queries))
        floors.append(_sql_alone([q["sql"] for q in queries.captured_queries]))
    print(
        f"  {what:<70} p50 {median(timings):6.1f} ms   p95 {pct(timings, 0.95):6.1f} ms"
        f"   max {max(timings):6.1f} ms   SQL alone p50 {median(floors):6.1f} ms"
        f"   p95 {pct(floors, 0.95):6.1f} ms   matches median {int(median(results)):,}"
        f"   {median(counts):.0f} queries/request"
    )
    return timings, floors, counts


def _explain(label: str, api, url: str, params: dict) -> None:
    """Print the plan, with its timing and buffers, of every statement one search sends."""
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    with override_settings(READ_CACHE_SECONDS=0), CaptureQueriesContext(connection) as queries:
        api.get(url, params)
    print(f"\n  EXPLAIN {label} {params}")
    with connection.connection.cursor() as cursor:
        for query in queries.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
            print(f"    -- {query['sql'][:160]}")
            for (line,) in cursor.fetchall():
                print(f"       {line}")


def _sql_alone(statements: list[str]) -> float:
    """Milliseconds to run `statements` (as the request sent them, parameters bound) on the
    raw database cursor and fetch every row: the floor, without Django or DRF."""
    from django.db import connection

    raw = connection.connection
    started = time.perf_counter()
    with raw.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            if cursor.description is not None:
                cursor.fetchall()
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
