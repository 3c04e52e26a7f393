"""Guarded aggregation of quotes into one published price per pair.

Pure functions: no I/O, no models, no clock (``now`` is always passed in). The
thresholds come in a ``Rules`` value; ``Rules.from_settings()`` reads them from
``oracle.conf``.

How ``aggregate`` decides, in order:

1. A failed source is excluded as ``error`` (``unsupported`` when it does not list
   the pair). A quote with a non-positive price, or stamped more than
   ``max_clock_skew`` in the future, is excluded as ``invalid``; one older than its
   source's max age is excluded as ``stale``. The rest are *fresh*.
2. No fresh quote at all: the previous price is carried forward unchanged while
   the quotes it was made of are still fresh, else the pair is ``stale``.
3. The median of the fresh prices is taken; a source further than
   ``max_deviation_pct`` from it is excluded as ``deviation``. The others *agree*.
4. ``halted`` / ``disagreement`` when the agreeing sources are not a strict
   majority of the fresh ones (no majority cluster), or span more than
   ``halt_spread_pct`` (a backstop when ``max_deviation_pct`` is set wide: with
   2 % and 5 % the agreeing set spans at most about 4 %).
5. ``halted`` / ``quorum`` when fewer than ``degraded_min`` sources agree: a lone
   source cannot be cross-checked.
6. The price is the median of the agreeing sources. ``halted`` / ``jump`` when it
   moves more than ``max_jump_pct`` from the last published price, published less
   than ``jump_window`` ago, and fewer than ``quorum`` sources confirm it.
7. ``ok`` with at least ``quorum`` agreeing sources, else ``degraded``.

Status semantics (what clients switch on):

* ``ok``: at least QUORUM fresh sources agree; ``price`` is tradeable.
* ``degraded``: DEGRADED_MIN..QUORUM-1 fresh sources agree; ``price`` is tradeable,
  callers may tighten limits.
* ``stale``: silence. No fresh quote arrived and the last published price is made
  of quotes older than their max age (``as_of`` applies the same test when a
  stored aggregate is read later). ``price`` is None; ``last_price`` and
  ``last_price_at`` show the last published one, for display only.
* ``halted``: the guard refused. Fresh data exists but is contradictory
  (``disagreement``), uncorroborated (``quorum``) or an unconfirmed ``jump``
  (``halt_reason``). ``price`` is None; ``last_price`` as for ``stale``.

Only ``ok`` and ``degraded`` are tradeable (``Aggregate.tradeable``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal
from enum import StrEnum
from typing import Any

from oracle import conf
from oracle.sources.base import Quote, SourceFailure, require_aware, split_pair

# A fixed precision, independent of whatever context a caller set.
_CTX = Context(prec=28)
_SPREAD_PLACES = Decimal("0.0001")


class Status(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    STALE = "stale"
    HALTED = "halted"


_SEVERITY = {Status.OK: 0, Status.DEGRADED: 1, Status.STALE: 2, Status.HALTED: 3}

# halt_reason values
DISAGREEMENT = "disagreement"
QUORUM = "quorum"
JUMP = "jump"

# Excluded.reason values
STALE = "stale"
DEVIATION = "deviation"
ERROR = "error"
UNSUPPORTED = "unsupported"
INVALID = "invalid"

FIXED_SOURCE = "fixed"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dec(value: Decimal | None) -> str | None:
    return format(value, "f") if value is not None else None


@dataclass(frozen=True)
class Rules:
    """The guard's thresholds. ``source_max_age`` overrides ``max_age`` per source."""

    max_age: timedelta
    max_deviation_pct: Decimal
    quorum: int
    degraded_min: int
    halt_spread_pct: Decimal
    max_jump_pct: Decimal
    jump_window: timedelta
    max_clock_skew: timedelta = timedelta(seconds=5)
    source_max_age: Mapping[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.degraded_min <= self.quorum:
            raise ValueError("need 1 <= degraded_min <= quorum")
        for name in ("max_deviation_pct", "halt_spread_pct", "max_jump_pct"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ValueError(f"{name} must be a positive Decimal, got {value!r}")
        if self.max_age <= timedelta(0) or self.jump_window <= timedelta(0):
            raise ValueError("max_age and jump_window must be positive")

    @classmethod
    def from_settings(cls) -> Rules:
        """The rules configured in settings (``oracle.conf``)."""
        return cls(
            max_age=timedelta(seconds=conf.max_age_seconds()),
            max_deviation_pct=conf.max_deviation_pct(),
            quorum=conf.quorum(),
            degraded_min=conf.degraded_min(),
            halt_spread_pct=conf.halt_spread_pct(),
            max_jump_pct=conf.max_jump_pct(),
            jump_window=timedelta(seconds=conf.jump_window_seconds()),
            max_clock_skew=timedelta(seconds=conf.max_clock_skew_seconds()),
            source_max_age={
                name: timedelta(seconds=s) for name, s in conf.source_max_age_seconds().items()
            },
        )

    def max_age_for(self, source: str) -> timedelta:
        return self.source_max_age.get(source, self.max_age)


@dataclass(frozen=True)
class SourcePrice:
    """A source whose price was used."""

    source: str
    pair: str
    price: Decimal
    observed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "pair": self.pair,
            "price": _dec(self.price),
            "observed_at": _iso(self.observed_at),
        }


@dataclass(frozen=True)
class Excluded:
    """A source that was not used, and why (``reason``; ``detail`` for humans)."""

    source: str
    pair: str
    price: Decimal | None
    observed_at: datetime | None
    reason: str
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "pair": self.pair,
            "price": _dec(self.price),
            "observed_at": _iso(self.observed_at),
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Aggregate:
    """The oracle's answer for one pair.

    ``price`` is set only when ``status`` is ``ok`` or ``degraded``.
    ``spread_pct`` is (max - min) / median of the used sources, in percent (None
    without sources). ``updated_at`` is when this aggregate was computed.
    ``halt_reason`` is set when halted; ``detail`` explains any non-ok status.
    ``last_price``/``last_price_at`` are the last published price and when it was
    computed (equal to ``price``/``updated_at`` when tradeable); the jump guard
    measures against them. ``fixed`` marks a configured price, not a market one.
    """

    pair: str
    price: Decimal | None
    status: Status
    sources: tuple[SourcePrice, ...]
    excluded: tuple[Excluded, ...]
    spread_pct: Decimal | None
    updated_at: datetime
    halt_reason: str | None = None
    detail: str = ""
    fixed: bool = False
    last_price: Decimal | None = None
    last_price_at: datetime | None = None

    @property
    def tradeable(self) -> bool:
        return self.status in (Status.OK, Status.DEGRADED) and self.price is not None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: decimals as strings, times as ISO 8601."""
        return {
            "pair": self.pair,
            "price": _dec(self.price),
            "status": str(self.status),
            "sources": [s.as_dict() for s in self.sources],
            "excluded": [e.as_dict() for e in self.excluded],
            "spread_pct": _dec(self.spread_pct),
            "updated_at": _iso(self.updated_at),
            "halt_reason": self.halt_reason,
            "detail": self.detail,
            "fixed": self.fixed,
            "last_price": _dec(self.last_price),
            "last_price_at": _iso(self.last_price_at),
        }


# --------------------------------------------------------------------------- arithmetic


def median(values: Sequence[Decimal]) -> Decimal:
    """Median of a non-empty sequence (mean of the middle two for an even count)."""
    if not values:
        raise ValueError("median of nothing")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return _CTX.divide(_CTX.add(ordered[mid - 1], ordered[mid]), 2)


def pct_diff(value: Decimal, reference: Decimal) -> Decimal:
    """|value - reference| as a percentage of ``reference`` (> 0)."""
    return _CTX.multiply(_CTX.divide(abs(_CTX.subtract(value, reference)), reference), 100)


def _spread(prices: Sequence[Decimal]) -> Decimal | None:
    if not prices:
        return None
    return pct_diff(max(prices), min(prices)) if len(prices) > 1 else Decimal(0)


def _shown(pct: Decimal | None) -> Decimal | None:
    return pct.quantize(_SPREAD_PLACES, rounding=ROUND_HALF_EVEN) if pct is not None else None


# --------------------------------------------------------------------------- aggregate


def aggregate(
    *,
    pair: str,
    quotes: Sequence[Quote],
    now: datetime,
    failures: Sequence[SourceFailure] = (),
    previous: Aggregate | None = None,
    rules: Rules | None = None,
) -> Aggregate:
    """Aggregate this round's quotes of ``pair`` into a guarded price.

    Preconditions: every quote and failure is for ``pair``, at most one entry per
    source; ``now`` and every timestamp are timezone-aware. ``previous`` is the
    aggregate last returned for this pair (any status): it carries the jump
    guard's reference price and is carried forward when no quote is fresh.
    ``rules`` defaults to ``Rules.from_settings()``.
    Side effects: none.
    Raises ``ValueError`` when a precondition does not hold.
    """
    rules = rules or Rules.from_settings()
    split_pair(pair)
    require_aware("now", now)
    if previous is not None and previous.pair != pair:
        raise ValueError(f"previous is for {previous.pair}, not {pair}")

    seen: set[str] = set()

    def once(source: str) -> None:
        if source in seen:
            raise ValueError(f"more than one entry for source {source!r}")
        seen.add(source)

    excluded: list[Excluded] = []
    for failure in failures:
        if failure.pair != pair:
            raise ValueError(f"failure for {failure.pair} given to aggregate {pair}")
        once(failure.source)
        reason = UNSUPPORTED if failure.code == UNSUPPORTED else ERROR
        detail = f"{failure.code}: {failure.detail}" if failure.detail else failure.code
        excluded.append(Excluded(failure.source, pair, None, None, reason, detail))

    fresh: list[Quote] = []
    for quote in quotes:
        if quote.pair != pair:
            raise ValueError(f"quote for {quote.pair} given to aggregate {pair}")
        once(quote.source)
        problem = _quote_problem(quote, now=now, rules=rules)
        if problem is None:
            fresh.append(quote)
        else:
            excluded.append(Excluded(quote.source, pair, quote.price, quote.observed_at, *problem))

    last_price, last_price_at = _last_published(previous)
    if not fresh:
        return _without_fresh(pair=pair, now=now, previous=previous, excluded=excluded, rules=rules)

    center = median([q.price for q in fresh])
    agreeing: list[Quote] = []
    for quote in fresh:
        deviation = pct_diff(quote.price, center)
        if deviation > rules.max_deviation_pct:
            detail = f"{deviation:.2f}% from the median {format(center, 'f')}"
            excluded.append(
                Excluded(quote.source, pair, quote.price, quote.observed_at, DEVIATION, detail)
            )
        else:
            agreeing.append(quote)
    used = tuple(
        SourcePrice(q.source, pair, q.price, q.observed_at)
        for q in sorted(agreeing, key=lambda q: q.source)
    )
    excluded.sort(key=lambda e: e.source)
    spread = _spread([q.price for q in agreeing])

    def halted(reason: str, detail: str) -> Aggregate:
        return Aggregate(
            pair=pair,
            price=None,
            status=Status.HALTED,
            sources=used,
            excluded=tuple(excluded),
            spread_pct=_shown(spread),
            updated_at=now,
            halt_reason=reason,
            detail=detail,
            last_price=last_price,
            last_price_at=last_price_at,
        )

    if 2 * len(agreeing) <= len(fresh):
        return halted(
            DISAGREEMENT,
            f"no majority: {len(agreeing)} of {len(fresh)} fresh sources within "
            f"{rules.max_deviation_pct}% of the median",
        )
    if spread is not None and spread > rules.halt_spread_pct:
        return halted(
            DISAGREEMENT,
            f"agreeing sources span {spread:.2f}% (limit {rules.halt_spread_pct}%)",
        )
    if len(agreeing) < rules.degraded_min:
        return halted(
            QUORUM,
            f"{len(agreeing)} fresh agreeing source(s), {rules.degraded_min} needed",
        )

    price = median([q.price for q in agreeing])
    if (
        last_price is not None
        and last_price_at is not None
        and now - last_price_at <= rules.jump_window
        and len(agreeing) < rules.quorum
    ):
        jump = pct_diff(price, last_price)
        if jump > rules.max_jump_pct:
            return halted(
                JUMP,
                f"{format(price, 'f')} is {jump:.2f}% from {format(last_price, 'f')} published "
                f"{(now - last_price_at).total_seconds():.0f}s ago; {len(agreeing)} of "
                f"{rules.quorum} confirming sources",
            )

    ok = len(agreeing) >= rules.quorum
    return Aggregate(
        pair=pair,
        price=price,
        status=Status.OK if ok else Status.DEGRADED,
        sources=used,
        excluded=tuple(excluded),
        spread_pct=_shown(spread),
        updated_at=now,
        detail="" if ok else f"{len(agreeing)} of {rules.quorum} sources for a quorum",
        last_price=price,
        last_price_at=now,
    )


def _quote_problem(quote: Quote, *, now: datetime, rules: Rules) -> tuple[str, str] | None:
    if not quote.price.is_finite() or quote.price <= 0:
        return INVALID, "price is not positive"
    age = now - quote.observed_at
    if -age > rules.max_clock_skew:
        return INVALID, f"timestamp {-age.total_seconds():.0f}s in the future"
    limit = rules.max_age_for(quote.source)
    if age > limit:
        return STALE, f"{age.total_seconds():.0f}s old (max {limit.total_seconds():.0f}s)"
    return None


def _last_published(previous: Aggregate | None) -> tuple[Decimal | None, datetime | None]:
    if previous is None:
        return None, None
    if previous.tradeable:
        return previous.price, previous.updated_at
    return previous.last_price, previous.last_price_at


def _inputs_fresh(agg: Aggregate, *, now: datetime, rules: Rules) -> bool:
    if agg.fixed:
        return True
    if not agg.sources:
        return False
    return all(now - s.observed_at <= rules.max_age_for(s.source) for s in agg.sources)


def _without_fresh(
    *,
    pair: str,
    now: datetime,
    previous: Aggregate | None,
    excluded: list[Excluded],
    rules: Rules,
) -> Aggregate:
    excluded.sort(key=lambda e: e.source)
    if (
        previous is not None
        and previous.tradeable
        and _inputs_fresh(previous, now=now, rules=rules)
    ):
        # One silent round does not unpublish a price whose quotes are still fresh.
        return replace(previous, excluded=tuple(excluded))
    last_price, last_price_at = _last_published(previous)
    return Aggregate(
        pair=pair,
        price=None,
        status=Status.STALE,
        sources=(),
        excluded=tuple(excluded),
        spread_pct=None,
        updated_at=now,
        detail="no fresh quote from any source",
        last_price=last_price,
        last_price_at=last_price_at,
    )


def as_of(agg: Aggregate, *, now: datetime, rules: Rules | None = None) -> Aggregate:
    """``agg`` as it stands at ``now``: a tradeable aggregate whose quotes have
    outlived their max age becomes ``stale`` (price withdrawn, ``last_price`` kept).

    For readers of a stored aggregate (API, listings) whose refresh may have stopped.
    Fixed prices never go stale. Side effects: none.
    """
    rules = rules or Rules.from_settings()
    require_aware("now", now)
    if not agg.tradeable or _inputs_fresh(agg, now=now, rules=rules):
        return agg
    return replace(
        agg,
        price=None,
        status=Status.STALE,
        detail="published price older than the max age, not refreshed",
    )


# --------------------------------------------------------------------------- cross rates


def cross(*, base_usd: Aggregate, quote_usd: Aggregate) -> Aggregate:
    """The ``BASE-QUOTE`` aggregate from ``BASE-USD`` and ``QUOTE-USD`` (e.g. ETH-ICP
    from ETH-USD and ICP-USD): price = base / quote.

    The status is the worse of the two legs (ok < degraded < stale < halted), so a
    halted leg halts the cross and its ``halt_reason`` is carried over. ``sources``
    and ``excluded`` list both legs (each entry names its pair); ``spread_pct`` is
    the sum of the legs' spreads (a bound on the spread of the ratio);
    ``updated_at`` is the older leg's; ``fixed`` if either leg is fixed.
    Raises ``ValueError`` unless both legs share a quote currency and differ.
    """
    base, hub = split_pair(base_usd.pair)
    quote, hub2 = split_pair(quote_usd.pair)
    if hub != hub2 or base == quote:
        raise ValueError(f"cannot cross {base_usd.pair} with {quote_usd.pair}")
    worst = max((base_usd, quote_usd), key=lambda a: _SEVERITY[a.status])
    status = worst.status
    tradeable = base_usd.tradeable and quote_usd.tradeable
    price = None
    if tradeable and base_usd.price is not None and quote_usd.price is not None:
        price = _CTX.divide(base_usd.price, quote_usd.price)
    last_price = last_at = None
    if (
        base_usd.last_price is not None
        and quote_usd.last_price is not None
        and base_usd.last_price_at is not None
        and quote_usd.last_price_at is not None
    ):
        last_price = _CTX.divide(base_usd.last_price, quote_usd.last_price)
        last_at = min(base_usd.last_price_at, quote_usd.last_price_at)
    spread = None
    if base_usd.spread_pct is not None and quote_usd.spread_pct is not None:
        spread = base_usd.spread_pct + quote_usd.spread_pct
    detail = ""
    if status is not Status.OK:
        detail = "; ".join(
            f"{leg.pair}: {leg.detail or leg.status}"
            for leg in (base_usd, quote_usd)
            if leg.status is not Status.OK
        )
    return Aggregate(
        pair=f"{base}-{quote}",
        price=price,
        status=status,
        sources=base_usd.sources + quote_usd.sources,
        excluded=base_usd.excluded + quote_usd.excluded,
        spread_pct=spread,
        updated_at=min(base_usd.updated_at, quote_usd.updated_at),
        halt_reason=worst.halt_reason if status is Status.HALTED else None,
        detail=detail,
        fixed=base_usd.fixed or quote_usd.fixed,
        last_price=price if price is not None else last_price,
        last_price_at=last_at,
    )


def identity(*, usd: Aggregate) -> Aggregate:
    """``X-X`` from ``X-USD``: one asset priced alike on two networks (ETH on two chains,
    bridged USDC) trades 1:1, and exactly when its USD price is tradeable.

    The price is exactly 1 while ``X-USD`` is tradeable; the status, sources, halt and
    times are the USD leg's, so a halted or stale leg halts the identity pair too.
    Raises ``ValueError`` for a pair that is not ``X-USD``.
    """
    base, hub = split_pair(usd.pair)
    if hub != "USD":
        raise ValueError(f"identity needs a {base}-USD price, not {usd.pair}")
    one = Decimal(1)
    return Aggregate(
        pair=f"{base}-{base}",
        price=one if usd.tradeable else None,
        status=usd.status,
        sources=usd.sources,
        excluded=usd.excluded,
        spread_pct=Decimal(0) if usd.spread_pct is not None else None,
        updated_at=usd.updated_at,
        halt_reason=usd.halt_reason,
        detail=usd.detail,
        fixed=usd.fixed,
        last_price=one if usd.last_price is not None else None,
        last_price_at=usd.last_price_at,
    )


# --------------------------------------------------------------------------- fixed prices


def fixed_price(*, pair: str, price: Decimal, now: datetime) -> Aggregate:
    """A configured price for a local test token, labelled as such: status ``ok``,
    one source named ``fixed``, ``fixed=True``. Never stale.
    Raises ``ValueError`` for a malformed pair or a non-positive price."""
    split_pair(pair)
    require_aware("now", now)
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise ValueError(f"fixed price must be a positive Decimal, got {price!r}")
    return Aggregate(
        pair=pair,
        price=price,
        status=Status.OK,
        sources=(SourcePrice(FIXED_SOURCE, pair, price, now),),
        excluded=(),
        spread_pct=Decimal(0),
        updated_at=now,
        detail="fixed price from settings (local test token)",
        fixed=True,
        last_price=price,
        last_price_at=now,
    )


def fixed_aggregate(
    *, pair: str, now: datetime, prices: Mapping[str, Decimal] | None = None
) -> Aggregate | None:
    """The fixed aggregate of ``pair`` if it has a configured price
    (``prices`` defaults to ``ORACLE_FIXED_PRICES``), else None."""
    prices = conf.fixed_prices() if prices is None else prices
    price = prices.get(pair.upper())
    return None if price is None else fixed_price(pair=pair.upper(), price=price, now=now)
