"""CoinGecko: ``GET /api/v3/simple/price?ids=bitcoin,ethereum,...&vs_currencies=usd
&include_last_updated_at=true&precision=full``.

Answer (numbers, not strings)::

    {"bitcoin": {"usd": 67187.33579264957, "last_updated_at": 1717507302},
     "tether": {"usd": 1.0002, "last_updated_at": 1717507290}}

Numbers are parsed as Decimal (never float). ``last_updated_at`` (epoch seconds)
is ``observed_at``. Unknown ids are silently left out of the answer.

The keyless public API allows only a handful of calls per minute, so one request
asks for every known coin at once and its answer is reused for ``cache_seconds``;
pricing BTC, ETH, ICP and USDT in one refresh costs one request. CoinGecko itself
refreshes these prices only every 60 s, which is why its quotes are allowed to be
older than other sources' (``ORACLE_SOURCE_MAX_AGE_SECONDS``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from oracle.sources.base import Quote, Source, SourceBadResponse, UnsupportedPair

# Asset symbol -> CoinGecko coin id (from /api/v3/coins/list).
COIN_IDS = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "ICP": "internet-computer",
    "USDT": "tether",
    "USDC": "usd-coin",
}
# Quote currencies asked for (CoinGecko "vs_currencies").
VS_CURRENCIES = ("USD",)


class CoinGeckoSource(Source):
    name = "coingecko"
    # Keyless public API: 5 to 30 calls per minute depending on load
    # (docs.coingecko.com "Common Errors & Rate Limit"). One call per 12 s (5/min)
    # serves every coin, since each call is batched.
    RATE = 1 / 12
    BURST = 1

    def __init__(
        self,
        *,
        coin_ids: Mapping[str, str] | None = None,
        cache_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        """``coin_ids`` maps symbols to CoinGecko ids (default ``COIN_IDS``);
        ``cache_seconds`` is how long one answer is reused (default: the limiter's
        interval, 12 s; 0 disables). Other arguments as ``Source``."""
        super().__init__(**kwargs)
        self.coin_ids = dict(coin_ids or COIN_IDS)
        self.cache_seconds = 1 / self.RATE if cache_seconds is None else cache_seconds
        self._cache_lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any], datetime] | None = None

    def _fetch(self, *, base: str, quote: str) -> Quote:
        pair = f"{base}-{quote}"
        coin = self.coin_ids.get(base)
        if coin is None or quote not in VS_CURRENCIES:
            raise UnsupportedPair(f"CoinGecko adapter does not price {pair}", **self._ctx(pair))
        body, received = self._prices(pair)
        entry = body.get(coin)
        if entry is None:
            raise SourceBadResponse(f"no {coin!r} in the answer", **self._ctx(pair))
        if not isinstance(entry, dict):
            raise SourceBadResponse(f"{coin!r} is {entry!r:.200}", **self._ctx(pair))
        price = self._price(entry.get(quote.lower()), pair=pair, number=True)
        observed = self._time(entry.get("last_updated_at"), pair=pair) or received
        return Quote(
            source=self.name, pair=pair, price=price, observed_at=observed, fetched_at=received
        )

    def _prices(self, pair: str) -> tuple[dict[str, Any], datetime]:
        # One request at a time: concurrent fetches of several coins share it.
        with self._cache_lock:
            if self._cached is not None:
                stamp, body, received = self._cached
                if time.monotonic() - stamp < self.cache_seconds:
                    return body, received
            params = {
                "ids": ",".join(sorted(set(self.coin_ids.values()))),
                "vs_currencies": ",".join(c.lower() for c in VS_CURRENCIES),
                "include_last_updated_at": "true",
                "precision": "full",
            }
            body, received = self._get_json("/api/v3/simple/price", params=params, pair=pair)
            if not isinstance(body, dict):
                raise SourceBadResponse(f"not an object: {body!r:.200}", **self._ctx(pair))
            self._cached = (time.monotonic(), body, received)
            return body, received

    def _time(self, value: Any, *, pair: str) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SourceBadResponse(f"last_updated_at is {value!r}", **self._ctx(pair))
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise SourceBadResponse(f"last_updated_at is {value!r}", **self._ctx(pair)) from None
