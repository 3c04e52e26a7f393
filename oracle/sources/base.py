"""What every price source shares: the Quote it returns, its errors, its rate
limiter, its backoff state and the guarded HTTP GET.

An adapter is a subclass of ``Source`` that turns ``fetch(base=, quote=)`` into one
provider request and parses the provider's wire format. ``Source`` does the rest:

* a timeout on every request, bounding the whole exchange (connect to last byte),
  and a cap on the body size;
* a client-side token bucket per source, so the oracle stays under the provider's
  public rate limit (each adapter documents the limit it was sized from);
* backoff: on 429 (rate limited), 418 (Binance's IP ban) and 451 (restricted
  location) the source is put in backoff until ``Retry-After`` (seconds or an
  HTTP-date) or a default per status; while backing off ``fetch`` raises
  ``SourceBackoff`` at once and the provider is not called. The state lives behind
  ``BackoffStore``: ``InMemoryBackoffStore`` (per process, the default) or
  ``CacheBackoffStore`` (Django's cache, shared by every process using it).

Prices are Decimal end to end: JSON is parsed with ``parse_float=Decimal`` and a
float never appears.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger(__name__)

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,15}$")
_PAIR_RE = re.compile(r"^([A-Z0-9]{2,15})-([A-Z0-9]{2,15})$")
# Largest answer accepted from a source; a ticker is well under 2 KB.
MAX_BODY_BYTES = 256 * 1024
# Backoff when a 429/418/451/503 comes without a usable Retry-After. Binance bans
# last "from 2 minutes to 3 days"; 451 (restricted location) will not clear soon.
DEFAULT_BACKOFF_SECONDS = {429: 60.0, 418: 120.0, 451: 3600.0, 503: 30.0}
# A Retry-After beyond this is treated as this: a garbled header must not silence a
# source for months, and Binance's longest documented ban is 3 days.
MAX_BACKOFF_SECONDS = 3 * 24 * 3600.0


# --------------------------------------------------------------------------- values


def split_pair(pair: str) -> tuple[str, str]:
    """``"BTC-USD"`` -> ``("BTC", "USD")``. Raises ``ValueError`` for anything else."""
    match = _PAIR_RE.match(pair)
    if not match:
        raise ValueError(f"pair must look like BTC-USD, got {pair!r}")
    return match.group(1), match.group(2)


def require_aware(name: str, value: datetime) -> None:
    """Raise ``ValueError`` unless ``value`` is a timezone-aware datetime."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True)
class Quote:
    """One price from one source.

    ``observed_at`` is the provider's own timestamp for the price when it gives one,
    else the time the answer was received (``fetched_at``).
    """

    source: str
    pair: str
    price: Decimal
    observed_at: datetime
    fetched_at: datetime

    def __post_init__(self) -> None:
        split_pair(self.pair)
        if not isinstance(self.price, Decimal):
            raise TypeError(f"price must be a Decimal, not {type(self.price).__name__}")
        require_aware("observed_at", self.observed_at)
        require_aware("fetched_at", self.fetched_at)


@dataclass(frozen=True)
class SourceFailure:
    """A source that gave no quote this round. ``code`` is ``SourceError.code``."""

    source: str
    pair: str
    code: str
    detail: str = ""


@dataclass(frozen=True)
class ConversionRate:
    """A measured rate used to convert a quote (e.g. USDT-USD for Binance).

    ``observed_at`` is the time of the oldest input it was measured from; ``via``
    says how it was measured, for the record.
    """

    pair: str
    price: Decimal
    observed_at: datetime
    via: str = ""

    def __post_init__(self) -> None:
        split_pair(self.pair)
        if not isinstance(self.price, Decimal) or not self.price.is_finite() or self.price <= 0:
            raise ValueError(f"rate must be a positive finite Decimal, got {self.price!r}")
        require_aware("observed_at", self.observed_at)


# --------------------------------------------------------------------------- errors


class SourceError(Exception):
    """A source gave no usable quote. ``code`` is a stable word for logs and reports."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, source: str, pair: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.pair = pair

    def as_failure(self, *, pair: str) -> SourceFailure:
        return SourceFailure(source=self.source, pair=pair, code=self.code, detail=str(self))


class SourceUnavailable(SourceError):
    """Transport failure, timeout or 5xx: retrying later may work."""

    code = "unavailable"


class SourceBackoff(SourceError):
    """The source asked us to wait (or our own rate limit would be exceeded).
    ``until`` is the epoch time before which the provider is not called."""

    code = "backoff"

    def __init__(self, message: str, *, source: str, until: float, pair: str | None = None):
        super().__init__(message, source=source, pair=pair)
        self.until = until


class SourceBadResponse(SourceError):
    """The answer was not what the provider's format promises (malformed, wrong
    pair, non-positive price, unexpected status)."""

    code = "bad_response"


class UnsupportedPair(SourceError):
    """The source does not list this pair (or cannot price it)."""

    code = "unsupported"


# --------------------------------------------------------------------------- backoff state


class BackoffStore(Protocol):
    """Where "do not call source X before time T" is kept (epoch seconds).

    ``InMemoryBackoffStore`` is per process. ``CacheBackoffStore`` keeps it in
    Django's cache, so every process sharing the cache (web, workers) backs off
    together. Anything with these two methods works (e.g. a Redis hash).
    """

    def until(self, source: str) -> float | None:
        """Epoch time until which ``source`` must not be called, or None."""
        ...

    def extend(self, source: str, until: float) -> None:
        """Back off ``source`` until ``until`` (never shortens a longer backoff)."""
        ...


class InMemoryBackoffStore:
    """Backoff state of this process only; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def until(self, source: str) -> float | None:
        with self._lock:
            return self._until.get(source)

    def extend(self, source: str, until: float) -> None:
        with self._lock:
            self._until[source] = max(until, self._until.get(source, 0.0))


class CacheBackoffStore:
    """Backoff state in a Django cache (``default`` unless given), shared across
    processes. Not atomic: two processes extending at once may keep the shorter
    of two backoffs, which only costs one early request."""

    def __init__(self, cache: Any = None, *, prefix: str = "oracle:backoff:") -> None:
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self._cache = cache
        self._prefix = prefix

    def until(self, source: str) -> float | None:
        value = self._cache.get(self._prefix + source)
        return float(value) if value is not None else None

    def extend(self, source: str, until: float) -> None:
        current = self.until(source) or 0.0
        until = max(until, current)
        ttl = max(1, math.ceil(until - time.time()) + 1)
        self._cache.set(self._prefix + source, until, timeout=ttl)


# --------------------------------------------------------------------------- rate limiting


class TokenBucket:
    """Client-side rate limiter: ``rate`` requests per second, bursts of ``burst``.

    ``reserve`` takes a token, waiting for one if needed; a wait longer than
    ``max_wait`` is refused instead (the caller reports a backoff). Thread-safe;
    it limits this process only, so size it with room for the other processes
    sharing the IP.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def reserve(self, *, max_wait: float) -> float | None:
        """Take a token. Returns the seconds waited, or None (nothing taken) when the
        wait would exceed ``max_wait``. Side effect: sleeps for the wait."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if wait > max_wait:
                return None
            # Taking the token before sleeping queues concurrent callers fairly.
            self._tokens -= 1
        if wait:
            self._sleep(wait)
        return wait


_default_backoff = InMemoryBackoffStore()
_default_limiters: dict[str, TokenBucket] = {}
_default_limiters_lock = threading.Lock()


def default_backoff_store() -> BackoffStore:
    """The process-wide backoff store used when an adapter is given none."""
    return _default_backoff


def default_limiter(name: str, *, rate: float, burst: int) -> TokenBucket:
    """The process-wide limiter of source ``name`` (created on first use), so every
    adapter instance of one source shares one budget."""
    with _default_limiters_lock:
        if name not in _default_limiters:
            _default_limiters[name] = TokenBucket(rate=rate, burst=burst)
        return _default_limiters[name]


# --------------------------------------------------------------------------- parsing helpers


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def parse_json(body: bytes) -> Any:
    """JSON with every non-integer number as Decimal; NaN/Infinity refused."""
    return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date),
    or None when absent or unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# --------------------------------------------------------------------------- the adapter base


class Source(ABC):
    """A price source: ``fetch(base=, quote=)`` returns a ``Quote`` or raises a
    ``SourceError``.

    Holds one ``httpx.Client`` (connection pool): ``close()`` it or use the
    adapter as a context manager. Safe to share between threads.
    """

    name: ClassVar[str]
    # Client-side budget (requests per second, burst); each subclass says why.
    RATE: ClassVar[float]
    BURST: ClassVar[int]

    def __init__(
        self,
        *,
        base_url: str,
        timeout: float,
        user_agent: str,
        limiter: TokenBucket | None = None,
        backoff: BackoffStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Validate the settings and open the connection pool (no traffic yet).

        ``clock`` gives epoch seconds: receipt times and backoff deadlines use it.
        Raises ``ValueError`` for a malformed URL, plain http to a non-loopback host
        (prices must not be alterable in transit) or a non-positive timeout.
        """
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{self.name}: base URL must be http(s), got {base_url!r}")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"{self.name}: plain http is only allowed to loopback hosts")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._limiter = limiter or default_limiter(self.name, rate=self.RATE, burst=self.BURST)
        self._backoff = backoff if backoff is not None else default_backoff_store()
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    # ------------------------------------------------------------------ public

    def fetch(self, *, base: str, quote: str) -> Quote:
        """Return this source's current price of ``base`` in ``quote``.

        Preconditions: ``base``/``quote`` are asset symbols (``BTC``, ``USD``).
        Side effects: at most one HTTP GET to the provider (none while backing off,
        none when the pair is unsupported); may sleep for the client-side limiter.
        Raises ``SourceBackoff`` (backing off, or our own limiter is full),
        ``SourceUnavailable`` (transport, timeout, 5xx), ``SourceBadResponse``
        (malformed answer) or ``UnsupportedPair``.
        """
        base, quote = base.upper(), quote.upper()
        if not _SYMBOL_RE.match(base) or not _SYMBOL_RE.match(quote) or base == quote:
            raise UnsupportedPair(f"not a pair: {base}-{quote}", source=self.name)
        return self._fetch(base=base, quote=quote)

    # ------------------------------------------------------------------ for subclasses

    @abstractmethod
    def _fetch(self, *, base: str, quote: str) -> Quote:
        """Do one provider request for ``base``-``quote`` (normalised, upper case)."""

    def _ctx(self, pair: str) -> dict[str, str]:
        """Keyword arguments naming this source and ``pair`` for a SourceError."""
        return {"source": self.name, "pair": pair}

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def _check_backoff(self, pair: str) -> None:
        until = self._backoff.until(self.name)
        if until is not None and until > self._clock():
            left = until - self._clock()
            raise SourceBackoff(
                f"backing off for {left:.1f}s more", source=self.name, pair=pair, until=until
            )

    def _back_off(self, *, status: int, retry_after: str | None, pair: str) -> SourceBackoff:
        now = self._clock()
        seconds = parse_retry_after(retry_after, now=now)
        if seconds is None:
            seconds = DEFAULT_BACKOFF_SECONDS.get(status, 60.0)
        seconds = min(seconds, MAX_BACKOFF_SECONDS)
        until = now + seconds
        self._backoff.extend(self.name, until)
        logger.warning(
            "oracle source %s answered %s; backing off %.0fs", self.name, status, seconds
        )
        return SourceBackoff(
            f"HTTP {status}; backing off {seconds:.0f}s", source=self.name, pair=pair, until=until
        )

    def _client_error(self, *, status: int, body: Any, pair: str) -> SourceError:
        """The error for a 4xx other than 429/418/451; adapters map "unknown pair"."""
        return SourceBadResponse(f"HTTP {status}: {str(body)[:200]}", source=self.name, pair=pair)

    def _take_slot(self, pair: str) -> None:
        """Before any request: refuse while backing off, then wait for a limiter token.

        Raises ``SourceBackoff`` in either case.
        """
        self._check_backoff(pair)
        if self._limiter.reserve(max_wait=self.timeout) is None:
            raise SourceBackoff(
                "client-side rate limit: no request slot within the timeout",
                source=self.name,
                pair=pair,
                until=self._clock() + 1.0 / self._limiter.rate,
            )

    def _get_json(self, path: str, *, params: Mapping[str, str], pair: str) -> tuple[Any, datetime]:
        """GET ``path`` and return (parsed JSON, receipt time).

        Checks the backoff first, then takes a limiter token, then sends one request
        whose whole exchange is bounded by ``timeout``. Raises as ``fetch`` does.
        """
        self._take_slot(pair)
        status, headers, body = self._send(path, params=params, pair=pair)
        received = self._now()
        if status in (429, 418, 451) or (status == 503 and "retry-after" in headers):
            raise self._back_off(status=status, retry_after=headers.get("retry-after"), pair=pair)
        if status >= 500:
            raise SourceUnavailable(f"HTTP {status}", source=self.name, pair=pair)
        try:
            parsed = parse_json(body)
        except (ValueError, UnicodeDecodeError) as exc:
            if status >= 400:
                raise self._client_error(status=status, body=body[:200], pair=pair) from exc
            raise SourceBadResponse(
                f"HTTP {status} with a body that is not JSON: {exc}", source=self.name, pair=pair
            ) from exc
        if status >= 400:
            raise self._client_error(status=status, body=parsed, pair=pair)
        if status != 200:
            raise SourceBadResponse(f"unexpected HTTP {status}", source=self.name, pair=pair)
        return parsed, received

    def _send(
        self, path: str, *, params: Mapping[str, str], pair: str
    ) -> tuple[int, httpx.Headers, bytes]:
        # httpx's timeout is per phase (a server dripping one byte per second never
        # trips the read timeout), so the body is also read against a deadline: the
        # whole exchange takes at most about twice the timeout.
        deadline = time.monotonic() + self.timeout
        try:
            with self._http.stream("GET", path, params=params) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise SourceBadResponse(
                            f"answer larger than {MAX_BODY_BYTES} bytes",
                            source=self.name,
                            pair=pair,
                        )
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("answer took longer than the timeout")
                return response.status_code, response.headers, b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(
                f"timed out after {self.timeout}s ({exc.__class__.__name__})",
                source=self.name,
                pair=pair,
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"{exc.__class__.__name__}: {exc}", source=self.name, pair=pair
            ) from exc

    def _price(
        self, value: Any, *, pair: str, what: str = "price", number: bool = False
    ) -> Decimal:
        """A positive finite Decimal from a JSON string (or, with ``number``, a JSON
        number: the format says which, and the other one means it changed), else
        SourceBadResponse."""
        expected = (int, Decimal) if number else (str,)
        if isinstance(value, bool) or not isinstance(value, expected):
            raise SourceBadResponse(f"{what} is {value!r}", source=self.name, pair=pair)
        try:
            price = Decimal(value)
        except InvalidOperation:
            raise SourceBadResponse(f"{what} is {value!r}", source=self.name, pair=pair) from None
        if not price.is_finite() or price <= 0:
            raise SourceBadResponse(f"{what} is {value!r}", source=self.name, pair=pair)
        return price
