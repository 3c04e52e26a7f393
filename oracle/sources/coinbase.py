"""Coinbase Exchange: ``GET /products/{BASE}-{QUOTE}/ticker``.

Answer (all numbers as strings)::

    {"ask": "67010.02", "bid": "67010.01", "volume": "9373.25437146",
     "trade_id": 681548811, "price": "67010.01", "size": "0.00032",
     "time": "2024-06-04T13:21:47.473381Z"}

``price`` is the last trade and ``time`` its time, used as ``observed_at``. An
unknown product answers 404 ``{"message": "NotFound"}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oracle.sources.base import Quote, Source, SourceBadResponse, SourceError, UnsupportedPair


class CoinbaseSource(Source):
    name = "coinbase"
    # Public endpoints: 10 requests/s per IP, bursts up to 15
    # (docs.cdp.coinbase.com/exchange/rest-api/rate-limits). Half, for other processes.
    RATE = 5.0
    BURST = 5

    def _fetch(self, *, base: str, quote: str) -> Quote:
        pair = f"{base}-{quote}"
        body, received = self._get_json(f"/products/{pair}/ticker", params={}, pair=pair)
        if not isinstance(body, dict):
            raise SourceBadResponse(f"ticker is not an object: {body!r:.200}", **self._ctx(pair))
        price = self._price(body.get("price"), pair=pair)
        observed = self._time(body.get("time"), pair=pair) or received
        return Quote(
            source=self.name, pair=pair, price=price, observed_at=observed, fetched_at=received
        )

    def _time(self, value: Any, *, pair: str) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise SourceBadResponse(f"time is {value!r}", **self._ctx(pair))
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise SourceBadResponse(f"time is {value!r}", **self._ctx(pair)) from None
        if when.tzinfo is None:
            raise SourceBadResponse(f"time has no zone: {value!r}", **self._ctx(pair))
        return when

    def _client_error(self, *, status: int, body: Any, pair: str) -> SourceError:
        if status == 404:
            return UnsupportedPair(f"Coinbase lists no product {pair}", **self._ctx(pair))
        return super()._client_error(status=status, body=body, pair=pair)
