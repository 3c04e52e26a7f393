"""Reads of the oracle. They read the cache and the database; they never call a source."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from core import versioned
from core.decimals import CTX
from oracle.aggregation import Aggregate, Status, as_of, cross, identity
from oracle.charts import Candle
from oracle.models import PairHalt, PriceCandle

USD = "USD"
T = TypeVar("T")


def cache_key(pair: str) -> str:
    return f"oracle:aggregate:{pair}"


# Replaced by every publication, halt and resume (``oracle.services``): the version of every
# read cached over prices (``core.versioned``).
PRICES_VERSION_KEY = "oracle:prices:version"


def prices_fresh_until() -> datetime | None:
    """The first moment a published price now tradeable goes stale by age alone (``as_of``),
    or None when none will (fixed prices only). One cache round trip, no query."""
    from oracle.aggregation import Rules

    rules = Rules.from_settings()
    pairs = direct_pairs()
    cached = cache.get_many([cache_key(p) for p in pairs])
    deadlines = [
        source.observed_at + rules.max_age_for(source.source)
        for agg in cached.values()
        if agg.tradeable and not agg.fixed
        for source in agg.sources
    ]
    # A pair without a published price stays without one until a publication, which
    # replaces the version: it sets no deadline.
    return min(deadlines, default=None)


# ``cached_over_prices(name, params, compute)``: ``compute()``, or its value from the cache
# while the oracle's prices and halts are those it was computed from and none it used has
# gone stale by age. For reads that depend on nothing else.
cached_over_prices = versioned.Reads((PRICES_VERSION_KEY,), until=lambda now: prices_fresh_until())


def fixed_prices() -> dict[str, Decimal]:
    """Configured fixed prices of test tokens, pair -> Decimal."""
    return {pair: Decimal(str(price)) for pair, price in settings.ORACLE_FIXED_PRICES.items()}


def market_pairs() -> list[str]:
    """Pairs fetched from the market: the configured ones and every registered asset in USD."""
    from chains.selectors import asset_list

    pairs = list(settings.ORACLE_PAIRS)
    for asset in asset_list().filter(is_test=False):
        pairs.append(f"{asset.symbol}-{USD}")
    fixed = fixed_prices()
    return [p for p in dict.fromkeys(pairs) if p not in fixed]


def direct_pairs() -> list[str]:
    return market_pairs() + list(fixed_prices())


@dataclass
class _OneRead:
    """What the first price read inside ``one_read`` took, for the later ones to reuse."""

    direct: list[str] | None = None
    halts: dict[str, str] = field(default_factory=dict)
    aggregates: dict[str, Aggregate] = field(default_factory=dict)


_one_read: ContextVar[_OneRead | None] = ContextVar("oracle_one_read", default=None)


@contextmanager
def one_read() -> Iterator[None]:
    """Inside the block the oracle is read once: the first price read takes the direct pairs,
    the halts and every direct pair's last aggregate (one cache round trip), and the later
    reads reuse them, so every check of one operation (a swap's creation) sees one consistent
    oracle. Prices still age at each read's time. Nested blocks share the outer one's read.
    """
    if _one_read.get() is not None:
        yield
        return
    token = _one_read.set(_OneRead())
    try:
        yield
    finally:
        _one_read.reset(token)


def cached_aggregate(pair: str) -> Aggregate | None:
    """The last aggregate published for `pair`, as published (no read-time guards); inside
    ``one_read``, as its first read found it."""
    taken = _one_read.get()
    if taken is not None and taken.direct is not None:
        return taken.aggregates.get(pair)
    return cache.get(cache_key(pair))


def _no_data(pair: str, now: datetime) -> Aggregate:
    return Aggregate(
        pair=pair,
        price=None,
        status=Status.HALTED,
        sources=(),
        excluded=(),
        spread_pct=None,
        updated_at=now,
        halt_reason="no_data",
        detail="no price has been published for this pair yet",
    )


def _halted_by_hand(agg: Aggregate, reason: str) -> Aggregate:
    return replace(
        agg,
        price=None,
        status=Status.HALTED,
        halt_reason="manual",
        detail=f"halted by staff: {reason}",
        last_price=agg.last_price if agg.last_price is not None else agg.price,
    )


def _price(
    pair: str, *, now: datetime, direct: list[str], halts: dict[str, str]
) -> Aggregate | None:
    base, _, quote = pair.partition("-")
    if not base or not quote or base == USD:
        return None
    if base == quote:  # one coin on two networks: 1:1 while its USD price is tradeable
        leg = _price(f"{base}-{USD}", now=now, direct=direct, halts=halts)
        if leg is None:
            return None
        agg = identity(usd=leg)
    elif pair in direct:
        agg = cached_aggregate(pair) or _no_data(pair, now)
        if not agg.fixed:
            agg = as_of(agg, now=now)
    else:
        base_leg, quote_leg = f"{base}-{USD}", f"{quote}-{USD}"
        if base_leg not in direct or quote_leg not in direct:
            return None
        base_usd = _price(base_leg, now=now, direct=direct, halts=halts)
        quote_usd = _price(quote_leg, now=now, direct=direct, halts=halts)
        if base_usd is None or quote_usd is None:
            return None
        agg = cross(base_usd=base_usd, quote_usd=quote_usd)
    return _halted_by_hand(agg, halts[pair]) if pair in halts else agg


def price_get(pair: str, *, now: datetime | None = None) -> Aggregate | None:
    """The price of `pair` as clients see it, or None for a pair the oracle does not know.

    Direct pairs come from the cache, aged at read time (stale when their quotes are);
    other pairs are crossed through USD. A manual halt of the pair or of a leg wins.
    """
    return price_list(pairs=[pair.upper()], now=now)[0] if pair else None


def price_list(*, pairs: list[str] | None = None, now: datetime | None = None) -> list:
    """Prices of `pairs` (None for an unknown one), by default of every direct pair and every
    configured cross pair (unknown ones left out). Two queries, whatever the number of pairs.
    """
    now = now or timezone.now()
    taken = _one_read.get()
    if taken is not None and taken.direct is None:
        taken.direct = direct_pairs()
        taken.halts = dict(PairHalt.objects.values_list("pair", "reason"))
        cached = cache.get_many([cache_key(p) for p in taken.direct])
        taken.aggregates = {p: cached[cache_key(p)] for p in taken.direct if cache_key(p) in cached}
    if taken is not None and taken.direct is not None:
        direct, halts = taken.direct, taken.halts
    else:
        direct = direct_pairs()
        halts = dict(PairHalt.objects.values_list("pair", "reason"))
    if pairs is not None:
        return [_price(p, now=now, direct=direct, halts=halts) for p in pairs]
    wanted = direct + [p for p in settings.ORACLE_CROSS_PAIRS if p not in direct]
    found = (_price(p, now=now, direct=direct, halts=halts) for p in wanted)
    return [agg for agg in found if agg is not None]


def pair_is_tradeable(pair: str) -> bool:
    """Whether new swaps and market-relative listings may use `pair` now."""
    agg = price_get(pair)
    return agg is not None and agg.tradeable


def price_pair(base_symbol: str, quote_symbol: str) -> str:
    """The oracle's pair for two price symbols (``Asset.priced_as``): ``BASE-QUOTE``."""
    return f"{base_symbol.upper()}-{quote_symbol.upper()}"


def candle_list(*, pair: str, interval: str, limit: int = 500) -> list[PriceCandle]:
    """The latest `limit` candles of `pair`, oldest first."""
    rows = PriceCandle.objects.filter(pair=pair.upper(), interval=interval).order_by("-start")
    return list(reversed(rows[:limit]))


# --------------------------------------------------------------------------- price history

# Chart ranges: (candle interval read, time span). Candles are merged to at most
# CHART_POINTS buckets, so a long range costs the page no more than a short one.
CHART_RANGES: dict[str, tuple[str, timedelta]] = {
    "1h": (PriceCandle.Interval.MINUTE, timedelta(hours=1)),
    "6h": (PriceCandle.Interval.MINUTE, timedelta(hours=6)),
    "1d": (PriceCandle.Interval.MINUTE, timedelta(days=1)),
    "7d": (PriceCandle.Interval.HOUR, timedelta(days=7)),
    "30d": (PriceCandle.Interval.HOUR, timedelta(days=30)),
}
DEFAULT_CHART_RANGE = "1d"
CHART_POINTS = 120


def _leg_history(pair: str, interval: str, since: datetime) -> list[Candle] | Decimal | None:
    """A direct pair's candles since `since`, its fixed price, or None for a pair the oracle
    does not fetch."""
    fixed = fixed_prices().get(pair)
    if fixed is not None:
        return fixed
    if pair not in market_pairs():
        return None
    rows = PriceCandle.objects.filter(pair=pair, interval=interval, start__gte=since).order_by(
        "start"
    )
    return [Candle(r.start, r.open, r.high, r.low, r.close) for r in rows]


def _cross(base: list[Candle] | Decimal, quote: list[Candle] | Decimal) -> list[Candle]:
    """Base-in-USD over quote-in-USD, bucket by bucket (a fixed leg divides every bucket)."""

    def by_start(leg: list[Candle] | Decimal) -> dict[datetime, Candle] | Decimal:
        return leg if isinstance(leg, Decimal) else {c.start: c for c in leg}

    def at(leg: dict[datetime, Candle] | Decimal, start: datetime) -> Candle | None:
        if isinstance(leg, Decimal):
            return Candle(start, leg, leg, leg, leg)
        return leg.get(start)

    timeline = base if isinstance(base, list) else quote
    if not isinstance(timeline, list):
        return []  # two fixed prices: a flat line, nothing to chart
    bases, quotes = by_start(base), by_start(quote)
    out = []
    for start in (c.start for c in timeline):
        b, q = at(bases, start), at(quotes, start)
        if b is None or q is None or 0 in (q.open, q.high, q.low, q.close):
            continue
        out.append(
            Candle(
                start=start,
                open=CTX.divide(b.open, q.open),
                high=CTX.divide(b.high, q.low),
                low=CTX.divide(b.low, q.high),
                close=CTX.divide(b.close, q.close),
            )
        )
    return out


def _merge(candles: list[Candle], most: int) -> list[Candle]:
    """At most `most` buckets: runs of neighbouring candles merged (open of the first,
    close of the last, extremes of all)."""
    if len(candles) <= most:
        return candles
    size = -(-len(candles) // most)
    merged = []
    for i in range(0, len(candles), size):
        run = candles[i : i + size]
        merged.append(
            Candle(
                start=run[0].start,
                open=run[0].open,
                high=max(c.high for c in run),
                low=min(c.low for c in run),
                close=run[-1].close,
            )
        )
    return merged


def price_history(*, pair: str, range_key: str, now: datetime | None = None) -> list[Candle]:
    """`pair`'s candles over a chart range (``CHART_RANGES``), oldest first, at most
    ``CHART_POINTS``. A cross pair is computed from its two USD legs bucket by bucket; one
    coin against itself, a fixed test price and an unknown pair have no history ([]).
    Two queries at most."""
    interval, span = CHART_RANGES.get(range_key, CHART_RANGES[DEFAULT_CHART_RANGE])
    since = (now or timezone.now()) - span
    base, _, quote = pair.upper().partition("-")
    if not base or not quote or base == quote:
        return []
    direct = _leg_history(f"{base}-{quote}", interval, since)
    if isinstance(direct, list):
        return _merge(direct, CHART_POINTS)
    if direct is not None:
        return []  # a fixed price
    legs = [_leg_history(f"{symbol}-{USD}", interval, since) for symbol in (base, quote)]
    if quote == USD or legs[0] is None or legs[1] is None:
        return []
    return _merge(_cross(legs[0], legs[1]), CHART_POINTS)
