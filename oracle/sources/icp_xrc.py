"""The Internet Computer's Exchange Rate Canister (XRC), through ``chains.icp``.

``get_exchange_rate`` is an update call (``/call``, then ``/read_state`` polling)
to the XRC on ``ORACLE_ICP_HOST``. Its rate is already an exact Decimal
(``raw * 10**-decimals``) and its timestamp, the start of the minute the rate is
for, is ``observed_at``. A symbol in ``FIAT_SYMBOLS`` is asked as a
``FiatCurrency``, any other as a ``Cryptocurrency`` (ICP-USD: crypto / fiat).

**On mainnet this source fails, cleanly.** The XRC accepts no ingress calls (its
``canister_inspect_message`` refuses them), nor anonymous callers, and wants cycles
attached (``docs/icp.md``); the call is refused and reported as
``SourceBadResponse`` saying so. It works against an XRC-compatible canister that
accepts ingress calls (``ORACLE_ICP_XRC_CANISTER_ID``), e.g. a proxy of our own.

How the client's errors are reported:

* ``IcpUnavailable`` (network, timeout, 5xx, poll timeout): ``SourceUnavailable``;
  HTTP 429: ``SourceBackoff`` (the source backs off as for an exchange's 429).
* ``IcpRejected``: ``SourceUnavailable`` for ``SYS_TRANSIENT``, else
  ``SourceBadResponse``.
* ``IcpRateError``: by kind, see ``RATE_ERRORS``.
* ``IcpProtocolError`` (bad CBOR/candid, a rate for another pair, a zero rate):
  ``SourceBadResponse``.

Each fetch takes at least one poll interval (the outcome of an update call is
never ready at once) and at most ``ORACLE_ICP_CALL_TIMEOUT`` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings

from chains import icp
from oracle import conf
from oracle.sources.base import (
    BackoffStore,
    Quote,
    Source,
    SourceBadResponse,
    SourceError,
    SourceUnavailable,
    TokenBucket,
    UnsupportedPair,
    default_backoff_store,
    default_limiter,
)

# Currencies the XRC knows as FiatCurrency (its forex sources); others are crypto.
FIAT_SYMBOLS = frozenset(
    {
        "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD",
        "KRW", "INR", "IDR", "MYR", "PHP", "THB", "TWD", "BRL", "MXN", "ARS", "CLP",
        "ZAR", "TRY", "ILS", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "XDR",
    }
)  # fmt: skip
# The XRC's ExchangeRateError cases (chains.icp.xrc.RATE_ERROR_KINDS) and how each is
# reported: the asset is unknown to it; it may have the rate later; or the call
# itself is wrong (ours to fix: a canister paying cycles must make it).
RATE_ERRORS: dict[str, type[SourceError]] = {
    "AnonymousPrincipalNotAllowed": SourceBadResponse,
    "Pending": SourceUnavailable,
    "CryptoBaseAssetNotFound": UnsupportedPair,
    "CryptoQuoteAssetNotFound": UnsupportedPair,
    "StablecoinRateNotFound": SourceUnavailable,
    "StablecoinRateTooFewRates": SourceUnavailable,
    "StablecoinRateZeroRate": SourceUnavailable,
    "ForexInvalidTimestamp": SourceUnavailable,
    "ForexBaseAssetNotFound": UnsupportedPair,
    "ForexQuoteAssetNotFound": UnsupportedPair,
    "ForexAssetsNotFound": UnsupportedPair,
    "RateLimited": SourceUnavailable,
    "NotEnoughCycles": SourceBadResponse,
    "FailedToAcceptCycles": SourceBadResponse,
    "InconsistentRatesReceived": SourceUnavailable,
    "Other": SourceBadResponse,
}
_CALLER_ERRORS = frozenset(
    {"AnonymousPrincipalNotAllowed", "NotEnoughCycles", "FailedToAcceptCycles"}
)
_NEEDS_A_CANISTER = (
    "the XRC must be called by a canister paying cycles, not by ingress messages; "
    "this source needs an XRC-compatible canister that accepts them (docs/icp.md)"
)


def icp_host() -> str:
    """The IC host the XRC is called on (``ORACLE_ICP_HOST``, default mainnet)."""
    return str(settings.ORACLE_ICP_HOST)


def icp_xrc_canister_id() -> str:
    """The canister asked for rates (``ORACLE_ICP_XRC_CANISTER_ID``, default the XRC)."""
    return str(settings.ORACLE_ICP_XRC_CANISTER_ID)


def icp_call_timeout() -> float:
    """Seconds one XRC call may take in all (``ORACLE_ICP_CALL_TIMEOUT``)."""
    return float(settings.ORACLE_ICP_CALL_TIMEOUT)


def asset_class(symbol: str) -> str:
    """``FiatCurrency`` for a symbol in ``FIAT_SYMBOLS``, else ``Cryptocurrency``."""
    return "FiatCurrency" if symbol in FIAT_SYMBOLS else "Cryptocurrency"


class IcpXrcSource(Source):
    """The XRC as a price source (see the module docstring).

    Holds one ``IcpClient`` connection pool: ``close()`` it or use the adapter as a
    context manager. Safe to share between threads.
    """

    name = "icp_xrc"
    # Each fetch is one /call plus a few /read_state polls. The boundary nodes publish
    # no per-IP limit, so this is not sized from one: it is what a refresh round
    # needs, and the XRC itself answers RateLimited beyond its own budget.
    RATE = 1.0
    BURST = 3

    def __init__(
        self,
        *,
        host: str | None = None,
        timeout: float | None = None,
        call_timeout: float | None = None,
        poll_interval: float = 0.5,
        canister_id: str | None = None,
        user_agent: str = "",
        limiter: TokenBucket | None = None,
        backoff: BackoffStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Validate the settings and open the client's pool (no traffic yet).

        ``host``, ``call_timeout`` and ``canister_id`` default to ``ORACLE_ICP_HOST``,
        ``ORACLE_ICP_CALL_TIMEOUT`` and ``ORACLE_ICP_XRC_CANISTER_ID``; ``timeout``
        (each HTTP request, and the longest wait for a limiter slot) to
        ``ORACLE_HTTP_TIMEOUT``. ``user_agent`` is accepted for ``build_source`` and
        unused (the IC client sends its own). ``clock`` gives epoch seconds.
        Raises ``ValueError`` for a malformed host, plain http to a non-loopback
        host, an invalid canister id or non-positive timeouts.
        """
        self.timeout = conf.http_timeout() if timeout is None else timeout
        self.canister_id = icp_xrc_canister_id() if canister_id is None else canister_id
        if not icp.principal_is_valid(self.canister_id):
            raise ValueError(f"{self.name}: not a canister id: {self.canister_id!r}")
        self._client = icp.IcpClient(
            host=icp_host() if host is None else host,
            timeout=self.timeout,
            call_timeout=icp_call_timeout() if call_timeout is None else call_timeout,
            poll_interval=poll_interval,
        )
        self.base_url = self._client.host
        self._limiter = limiter or default_limiter(self.name, rate=self.RATE, burst=self.BURST)
        self._backoff = backoff if backoff is not None else default_backoff_store()
        self._clock = clock

    def close(self) -> None:
        """Close the IC client's connection pool."""
        self._client.close()

    def _fetch(self, *, base: str, quote: str) -> Quote:
        pair = f"{base}-{quote}"
        self._take_slot(pair)
        try:
            rate = self._client.get_exchange_rate(
                base=base,
                quote=quote,
                base_class=asset_class(base),
                quote_class=asset_class(quote),
                xrc_canister_id=self.canister_id,
            )
        except icp.IcpError as exc:
            raise self._error(exc, pair=pair) from exc
        return Quote(
            source=self.name,
            pair=pair,
            price=rate.rate,
            observed_at=datetime.fromtimestamp(rate.timestamp, tz=UTC),
            fetched_at=self._now(),
        )

    def _error(self, exc: icp.IcpError, *, pair: str) -> SourceError:
        """The ``SourceError`` reporting the IC client's ``exc``."""
        ctx = self._ctx(pair)
        if isinstance(exc, icp.IcpUnavailable):
            if exc.status_code == 429:
                return self._back_off(status=429, retry_after=None, pair=pair)
            return SourceUnavailable(f"IC unavailable: {exc}", **ctx)
        if isinstance(exc, icp.IcpRejected):
            if exc.reject_code == icp.REJECT_SYS_TRANSIENT:
                return SourceUnavailable(f"XRC call {exc}", **ctx)
            hint = f"; {_NEEDS_A_CANISTER}" if exc.reject_code == icp.REJECT_CANISTER_REJECT else ""
            return SourceBadResponse(f"XRC call {exc}{hint}", **ctx)
        if isinstance(exc, icp.IcpRateError):
            cls = RATE_ERRORS.get(exc.kind, SourceBadResponse)
            hint = f"; {_NEEDS_A_CANISTER}" if exc.kind in _CALLER_ERRORS else ""
            return cls(f"XRC answered Err({exc}){hint}", **ctx)
        if isinstance(exc, icp.IcpInvalidArgument):
            return UnsupportedPair(f"the XRC cannot be asked for {pair}: {exc}", **ctx)
        return SourceBadResponse(f"unusable XRC answer: {exc}", **ctx)
