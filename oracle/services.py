"""Writes of the oracle: refresh rounds, publishing aggregates, manual halts."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core import versioned
from core.decimals import CTX, quantize
from core.live import group_send
from oracle import live, selectors
from oracle.aggregation import Aggregate, Status, aggregate, fixed_price
from oracle.models import OracleAlert, PairHalt, PriceCandle, PricePoint
from oracle.sources import CacheBackoffStore, Source, build_sources, fetch_quotes

logger = logging.getLogger(__name__)
PRICES_GROUP = "prices"


def prices_refresh(
    *, now: datetime | None = None, sources: dict[str, Source] | None = None
) -> list[Aggregate]:
    """One refresh round: fetch every market pair from every source, aggregate, publish.

    Fixed-price pairs (local test tokens) are published as such. Sources never raise
    here: failures become exclusions. Returns the published aggregates.
    """
    if sources is None:
        built = build_sources(backoff=CacheBackoffStore())
        try:
            return prices_refresh(now=now, sources=built)
        finally:
            for adapter in built.values():
                adapter.close()
    now = now or timezone.now()
    published = []
    # Fixed prices first: they need no source, so slow or failing sources never delay them.
    for pair, price in selectors.fixed_prices().items():
        agg = fixed_price(pair=pair, price=price, now=now)
        price_publish(aggregate=agg, previous=selectors.cached_aggregate(pair))
        published.append(agg)
    for pair in selectors.market_pairs():
        base, quote = pair.split("-")
        collected = fetch_quotes(sources=list(sources.values()), base=base, quote=quote)
        previous = selectors.cached_aggregate(pair)
        agg = aggregate(
            pair=pair,
            quotes=collected.quotes,
            failures=collected.failures,
            now=now,
            previous=previous,
        )
        price_publish(aggregate=agg, previous=previous)
        published.append(agg)
    return published


def _candle_start(at: datetime, interval: str) -> datetime:
    at = at.replace(second=0, microsecond=0)
    return at.replace(minute=0) if interval == PriceCandle.Interval.HOUR else at


def _candles_update(agg: Aggregate) -> None:
    price = agg.price
    if price is None:
        return
    for interval in PriceCandle.Interval.values:
        start = _candle_start(agg.updated_at, interval)
        candle, created = PriceCandle.objects.select_for_update().get_or_create(
            pair=agg.pair,
            interval=interval,
            start=start,
            defaults={"open": price, "high": price, "low": price, "close": price},
        )
        if not created:
            candle.high = max(candle.high, price)
            candle.low = min(candle.low, price)
            candle.close = price
            candle.samples += 1
            candle.save(update_fields=["high", "low", "close", "samples"])


def _alerts(agg: Aggregate, previous: Aggregate | None) -> list[OracleAlert]:
    """Alerts for what changed: a source newly excluded, a new halt, a recovery."""
    alerts = []
    before = {(e.source, e.reason) for e in previous.excluded} if previous else set()
    for excluded in agg.excluded:
        if (excluded.source, excluded.reason) not in before:
            alerts.append(
                OracleAlert(
                    pair=agg.pair,
                    kind=OracleAlert.Kind.EXCLUSION,
                    source=excluded.source,
                    reason=excluded.reason,
                    detail=(excluded.detail or "")[:500],
                )
            )
    was_halted = previous is not None and previous.status == Status.HALTED
    previous_reason = previous.halt_reason if previous is not None else None
    if agg.status == Status.HALTED and (not was_halted or previous_reason != agg.halt_reason):
        alerts.append(
            OracleAlert(
                pair=agg.pair,
                kind=OracleAlert.Kind.HALT,
                reason=agg.halt_reason or "",
                detail=agg.detail[:500],
            )
        )
    elif was_halted and agg.tradeable:
        alerts.append(OracleAlert(pair=agg.pair, kind=OracleAlert.Kind.RECOVERY))
    return alerts


def _broadcast(pair: str) -> None:
    """Send `pair`'s price as clients see it now to the live price subscribers."""
    shown = selectors.price_get(pair)
    if shown is not None:
        group_send(PRICES_GROUP, live.price_update(shown.as_dict()))


def prices_changed() -> None:
    """Mark every read cached over the oracle's prices out of date once the current
    transaction commits."""
    versioned.bump_on_commit(selectors.PRICES_VERSION_KEY)


def _prices_changed(pair: str) -> None:
    versioned.bump(selectors.PRICES_VERSION_KEY)
    _broadcast(pair)


@transaction.atomic
def price_publish(*, aggregate: Aggregate, previous: Aggregate | None) -> None:
    """Store `aggregate` (raw point, candles, alerts) and, on commit, cache and broadcast it.

    Reads never call a source: they read the cache this writes.
    """
    agg = aggregate
    PricePoint.objects.create(
        pair=agg.pair,
        status=str(agg.status),
        price=agg.price,
        spread_pct=agg.spread_pct,
        sources=[s.as_dict() for s in agg.sources],
        excluded=[e.as_dict() for e in agg.excluded],
        halt_reason=agg.halt_reason or "",
        fixed=agg.fixed,
        computed_at=agg.updated_at,
    )
    _candles_update(agg)
    alerts = OracleAlert.objects.bulk_create(_alerts(agg, previous))
    for alert in alerts:
        logger.warning(
            "oracle alert",
            extra={
                "pair": alert.pair,
                "kind": alert.kind,
                "source": alert.source,
                "reason": alert.reason,
            },
        )

    def after_commit() -> None:
        # One round trip: the price and a new version for the reads cached over prices.
        cache.set_many(
            {
                selectors.cache_key(agg.pair): agg,
                selectors.PRICES_VERSION_KEY: versioned.new_token(),
            },
            timeout=None,
        )
        _broadcast(agg.pair)

    transaction.on_commit(after_commit)


def prices_prune(*, now: datetime | None = None) -> int:
    """Delete raw points older than ORACLE_RAW_RETENTION_HOURS (candles stay). Returns the count."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.ORACLE_RAW_RETENTION_HOURS)
    deleted, _ = PricePoint.objects.filter(computed_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def pair_halt(*, pair: str, reason: str, user) -> PairHalt:
    """Halt `pair` by hand (staff). Idempotent; the reason is updated. Audited as an alert."""
    if not reason.strip():
        raise ValueError("a reason is required")
    halt, _ = PairHalt.objects.update_or_create(
        pair=pair, defaults={"reason": reason.strip(), "halted_by": user}
    )
    OracleAlert.objects.create(
        pair=pair, kind=OracleAlert.Kind.MANUAL_HALT, detail=reason.strip()[:500], user=user
    )
    transaction.on_commit(lambda: _prices_changed(pair))
    return halt


@transaction.atomic
def pair_resume(*, pair: str, reason: str, user) -> bool:
    """Lift a manual halt (staff). Returns whether one existed. Audited as an alert."""
    if not reason.strip():
        raise ValueError("a reason is required")
    deleted, _ = PairHalt.objects.filter(pair=pair).delete()
    if deleted:
        OracleAlert.objects.create(
            pair=pair, kind=OracleAlert.Kind.MANUAL_RESUME, detail=reason.strip()[:500], user=user
        )
        transaction.on_commit(lambda: _prices_changed(pair))
    return bool(deleted)


def convert_amount(*, amount: Decimal, price: Decimal) -> Decimal:
    """amount × price, exactly, then rounded half-even to 18 decimal places (the finest any
    asset here uses)."""
    return quantize(CTX.multiply(amount, price), 18, rounding=ROUND_HALF_EVEN)
