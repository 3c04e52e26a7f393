"""Binance: ``GET /api/v3/ticker/price?symbol=BTCUSDT``.

Answer::

    {"symbol": "BTCUSDT", "price": "67012.34000000"}

An unknown symbol answers 400 ``{"code": -1121, "msg": "Invalid symbol."}``. The
answer carries no timestamp: ``observed_at`` is receipt time.

Binance has no USD markets, only USDT ones. USDT is not USD (it has traded at
0.95 and below), so a ``*-USD`` price is the ``*USDT`` price times a *measured*
USDT-USD rate, never times 1. The rate comes from the ``usdt_usd`` callable given
to the adapter, which returns a ``ConversionRate`` or raises ``SourceError``:

* ``oracle.sources.MeasuredUsdtUsd``: fetches USDT-USD from the sources that quote
  it directly (Coinbase, Kraken, CoinGecko) and aggregates it with the same guards
  as any pair (used by ``build_sources``);
* ``rate_from_aggregate(agg)``: wraps an already published USDT-USD aggregate, for
  a refresh loop that computes USDT-USD first.

The converted quote is as old as its oldest input: ``observed_at`` is the older of
the receipt time and the rate's ``observed_at``. Binance never quotes USDT-USD
itself (it would only echo the rate it was given).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Context
from typing import TYPE_CHECKING, Any

from oracle.sources.base import (
    ConversionRate,
    Quote,
    Source,
    SourceBadResponse,
    SourceError,
    SourceUnavailable,
    UnsupportedPair,
)

if TYPE_CHECKING:
    from oracle.aggregation import Aggregate

RateProvider = Callable[[], ConversionRate]
# Enough digits for the exact product of two prices (each well under 30 digits).
_EXACT = Context(prec=60)
_INVALID_SYMBOL = -1121


def rate_from_aggregate(aggregate: Aggregate) -> ConversionRate:
    """A ``ConversionRate`` from a published aggregate (e.g. USDT-USD).

    Raises ``SourceUnavailable`` when the aggregate is not tradeable (stale or
    halted): a conversion through an unreliable rate is itself unreliable.
    """
    if not aggregate.tradeable or aggregate.price is None:
        raise SourceUnavailable(
            f"{aggregate.pair} is {aggregate.status} ({aggregate.halt_reason or 'no price'})",
            source="binance",
            pair=aggregate.pair,
        )
    times = [s.observed_at for s in aggregate.sources] or [aggregate.updated_at]
    return ConversionRate(
        pair=aggregate.pair,
        price=aggregate.price,
        observed_at=min(times),
        via="aggregate of " + ",".join(s.source for s in aggregate.sources),
    )


class BinanceSource(Source):
    name = "binance"
    # REQUEST_WEIGHT limit 6000 per minute per IP; ticker/price with a symbol weighs
    # 2 (developers.binance.com spot "LIMITS"). 5/s is 600 weight/min, a tenth of it;
    # repeated 429s turn into 418 IP bans of 2 minutes to 3 days.
    RATE = 5.0
    BURST = 5

    def __init__(self, *, usdt_usd: RateProvider | None = None, **kwargs: Any) -> None:
        """``usdt_usd`` provides the measured USDT-USD rate; without it only
        ``*-USDT`` pairs are supported. Other arguments as ``Source``."""
        super().__init__(**kwargs)
        self.usdt_usd = usdt_usd

    def _fetch(self, *, base: str, quote: str) -> Quote:
        pair = f"{base}-{quote}"
        if quote == "USD":
            if base == "USDT":
                raise UnsupportedPair("Binance cannot measure USDT-USD", **self._ctx(pair))
            if self.usdt_usd is None:
                raise UnsupportedPair(
                    "Binance quotes in USDT and no USDT-USD rate provider is set",
                    **self._ctx(pair),
                )
        # The rate first: without one, a Binance request would be wasted.
        rate = self._rate(pair) if quote == "USD" else None
        symbol = base + ("USDT" if quote == "USD" else quote)
        body, received = self._get_json(
            "/api/v3/ticker/price", params={"symbol": symbol}, pair=pair
        )
        if not isinstance(body, dict) or body.get("symbol") != symbol:
            raise SourceBadResponse(f"asked {symbol}, answered {body!r:.200}", **self._ctx(pair))
        price = self._price(body.get("price"), pair=pair)
        observed = received
        if rate is not None:
            price = _EXACT.multiply(price, rate.price)
            observed = min(observed, rate.observed_at)
        return Quote(
            source=self.name, pair=pair, price=price, observed_at=observed, fetched_at=received
        )

    def _rate(self, pair: str) -> ConversionRate:
        assert self.usdt_usd is not None  # checked before the request
        try:
            rate = self.usdt_usd()
        except SourceError as exc:
            raise SourceUnavailable(f"no USDT-USD rate: {exc}", **self._ctx(pair)) from exc
        if rate.pair != "USDT-USD":
            raise SourceUnavailable(f"rate provider gave {rate.pair}", **self._ctx(pair))
        return rate

    def _client_error(self, *, status: int, body: Any, pair: str) -> SourceError:
        if status == 400 and isinstance(body, dict) and body.get("code") == _INVALID_SYMBOL:
            return UnsupportedPair(f"Binance: {body.get('msg')}", **self._ctx(pair))
        return super()._client_error(status=status, body=body, pair=pair)
