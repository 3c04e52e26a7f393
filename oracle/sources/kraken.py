"""Kraken: ``GET /0/public/Ticker?pair=XBTUSD``.

Answer (HTTP 200 even for errors)::

    {"error": [], "result": {"XXBTZUSD": {"a": ["67050.1", "1", "1.000"],
     "b": [...], "c": ["67049.9", "0.0015"], "v": [...], "p": [...], "t": [...],
     "l": [...], "h": [...], "o": "66500.0"}}}

``c`` is the last trade [price, lot volume]. Kraken calls bitcoin ``XBT`` (and
dogecoin ``XDG``), and keys the result by its own pair name, which is the legacy
``X``/``Z``-prefixed one for old pairs (``XXBTZUSD``, ``XETHZUSD``, ``USDTZUSD``)
but the plain one for newer assets (``ICPUSD``, ``XBTUSDT``). The key is therefore
taken from the answer and only checked to name the asked pair, never guessed.
Errors come as a non-empty ``error`` list: ``EQuery:Unknown asset pair`` means the
pair is not listed. The ticker carries no timestamp: ``observed_at`` is receipt time.
"""

from __future__ import annotations

from typing import NoReturn

from oracle.sources.base import (
    Quote,
    Source,
    SourceBadResponse,
    SourceUnavailable,
    UnsupportedPair,
)

# Kraken's own names for assets whose ISO-ish symbol differs.
ASSET_NAMES = {"BTC": "XBT", "DOGE": "XDG"}
# Error prefixes of Kraken's rate limiter ("EAPI:Rate limit exceeded",
# "EGeneral:Too many requests"): treated like a 429 without Retry-After.
_RATE_LIMIT_ERRORS = ("EAPI:Rate limit", "EGeneral:Too many requests")
_UNAVAILABLE_ERRORS = ("EService:",)


def result_keys(base: str, quote: str) -> frozenset[str]:
    """Every name Kraken may key the ticker of ``base``/``quote`` (Kraken names) by:
    the plain one and the legacy ones with an ``X`` (crypto) or ``Z`` (fiat) prefix."""
    return frozenset(b + q for b in (base, "X" + base) for q in (quote, "Z" + quote, "X" + quote))


class KrakenSource(Source):
    name = "kraken"
    # Public endpoints are limited per IP to about one call per second
    # (support.kraken.com "What are the API rate limits?").
    RATE = 1.0
    BURST = 1

    def _fetch(self, *, base: str, quote: str) -> Quote:
        pair = f"{base}-{quote}"
        k_base, k_quote = ASSET_NAMES.get(base, base), ASSET_NAMES.get(quote, quote)
        body, received = self._get_json(
            "/0/public/Ticker", params={"pair": k_base + k_quote}, pair=pair
        )
        if not isinstance(body, dict) or not isinstance(body.get("error", []), list):
            raise SourceBadResponse(f"not a Kraken answer: {body!r:.200}", **self._ctx(pair))
        if body.get("error"):
            self._raise_error([str(e) for e in body["error"]], pair=pair)
        result = body.get("result")
        if not isinstance(result, dict) or len(result) != 1:
            raise SourceBadResponse(
                f"expected one ticker in result, got {result!r:.200}", **self._ctx(pair)
            )
        (key, ticker), *_ = result.items()
        if key not in result_keys(k_base, k_quote):
            raise SourceBadResponse(
                f"asked for {k_base}{k_quote}, answered {key!r}", **self._ctx(pair)
            )
        last = ticker.get("c") if isinstance(ticker, dict) else None
        if not isinstance(last, list) or not last:
            raise SourceBadResponse(f"ticker has no last trade: {ticker!r:.200}", **self._ctx(pair))
        price = self._price(last[0], pair=pair)
        return Quote(
            source=self.name, pair=pair, price=price, observed_at=received, fetched_at=received
        )

    def _raise_error(self, errors: list[str], *, pair: str) -> NoReturn:
        text = "; ".join(errors)
        if any(e.startswith("EQuery:Unknown asset pair") for e in errors):
            raise UnsupportedPair(f"Kraken: {text}", **self._ctx(pair))
        if any(e.startswith(_RATE_LIMIT_ERRORS) for e in errors):
            raise self._back_off(status=429, retry_after=None, pair=pair)
        if any(e.startswith(_UNAVAILABLE_ERRORS) for e in errors):
            raise SourceUnavailable(f"Kraken: {text}", **self._ctx(pair))
        raise SourceBadResponse(f"Kraken: {text}", **self._ctx(pair))
