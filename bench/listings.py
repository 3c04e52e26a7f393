"""Offer-book search latency through the API with 100,000 active listings on PostgreSQL.

One command:  DATABASE_URL=postgres://... .venv/bin/python bench/listings.py [--listings 100000]
(or `make bench-listings`). Needs PostgreSQL: a throwaway database `bench_listings_<pid>` is
created next to the one DATABASE_URL names, migrated, seeded and dropped. Seeds makers with
wallets, reputations and KYC levels, and listings over 12 asset pairs (a third of them on
the busiest pair, ETH-TEST), 80 % fixed-price and 20 % market-relative, with terms drawn
from a small vocabulary. Then, in-process with DRF's APIClient (the full Django stack:
middleware, authentication, throttling on a local-memory cache, serialisation), warms up
and times `--requests` requests of each typical search, varying its parameters.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-listings-"))
os.environ["LOG_LEVEL"] = "WARNING"
os.environ["DEBUG"] = "false"  # DEBUG keeps every SQL string in memory: not production-like
os.environ.pop("REDIS_URL", None)  # the cache is overridden to local memory below

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
USD = {"ETH": "2000", "TEST": "1", "USDC": "1", "DAI": "1", "WBTC": "60000"}
DECIMALS = {"ETH": 18, "TEST": 6, "USDC": 6, "DAI": 18, "WBTC": 8}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    db_url = os.environ.get("DATABASE_URL")
    if not db_url or not db_url.startswith("postgres"):
        sys.exit("bench/listings.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    import django
    import psycopg

    name = f"bench_listings_{os.getpid()}"
    os.environ["DATABASE_URL"] = db_url.rsplit("/", 1)[0] + "/" + name
    admin = psycopg.connect(db_url, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")
    try:
        django.setup()
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        admin.execute(f"DROP DATABASE IF EXISTS {name}")


def run(args) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from marketplace.tests.support import publish_prices

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
    # Market-relative prices come from the oracle; publish its prices as configured ones.
    usd = {f"{s}-USD": p for s, p in USD.items()}

    class _Settings:
        def __setattr__(self, key, value):
            from django.conf import settings

            setattr(settings, key, value)

    publish_prices(_Settings(), usd)

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
    load = os.getloadavg()
    print(
        f"machine: {os.cpu_count()} CPUs ({_cpu_model()}), PostgreSQL {pg_version}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
    )
    print(
        f"seeded {seeded['created']:,} active listings in {seeded['seed_seconds']:.1f} s "
        f"(setup with VACUUM ANALYZE {setup:.1f} s); {args.requests} requests per search"
    )
    for label, params in searches.items():
        for _ in range(20):  # warm-up: plans, caches, connection
            response = api.get(url, params())
            assert response.status_code == 200, response.content
        timings = []
        results = []
        with CaptureQueriesContext(connection) as queries:
            for _ in range(args.requests):
                query = params()
                t0 = time.perf_counter()
                response = api.get(url, query)
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, response.content
                results.append(response.json()["count"])
        per_request = len(queries.captured_queries) / args.requests
        print(
            f"  {label:<48} p50 {statistics.median(timings):6.1f} ms   "
            f"p95 {pct(timings, 0.95):6.1f} ms   max {max(timings):6.1f} ms   "
            f"matches median {int(statistics.median(results)):,}   "
            f"{per_request:.0f} queries/request"
        )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    overrides.disable()


if __name__ == "__main__":
    main()
