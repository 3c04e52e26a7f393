"""Reads of the oracle. They read the cache and the database; they never call a source."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from oracle.aggregation import Aggregate, Status, as_of, cross, identity
from oracle.models import PairHalt, PriceCandle

USD = "USD"


def cache_key(pair: str) -> str:
    return f"oracle:aggregate:{pair}"


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


def cached_aggregate(pair: str) -> Aggregate | None:
    """The last aggregate published for `pair`, as published (no read-time guards)."""
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
