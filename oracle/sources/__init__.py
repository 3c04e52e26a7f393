"""Price sources: one adapter per exchange behind the ``Source`` interface.

``fetch(*, base, quote) -> Quote`` or a ``SourceError``. Build adapters from the
settings with ``build_source(name)`` / ``build_sources()``; collect one pair from
several with ``fetch_quotes`` (concurrently, failures reported, never raised).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from oracle import conf
from oracle.sources.base import (
    BackoffStore,
    CacheBackoffStore,
    ConversionRate,
    InMemoryBackoffStore,
    Quote,
    Source,
    SourceBackoff,
    SourceBadResponse,
    SourceError,
    SourceFailure,
    SourceUnavailable,
    TokenBucket,
    UnsupportedPair,
)
from oracle.sources.binance import BinanceSource, rate_from_aggregate
from oracle.sources.chainlink import ChainlinkSource
from oracle.sources.coinbase import CoinbaseSource
from oracle.sources.coingecko import CoinGeckoSource
from oracle.sources.icp_xrc import IcpXrcSource
from oracle.sources.kraken import KrakenSource

if TYPE_CHECKING:
    from oracle.aggregation import Rules

__all__ = [
    "ADAPTERS",
    "BackoffStore",
    "BinanceSource",
    "ChainlinkSource",
    "CacheBackoffStore",
    "CoinGeckoSource",
    "CoinbaseSource",
    "Collected",
    "ConversionRate",
    "IcpXrcSource",
    "InMemoryBackoffStore",
    "KrakenSource",
    "MeasuredUsdtUsd",
    "Quote",
    "Source",
    "SourceBackoff",
    "SourceBadResponse",
    "SourceError",
    "SourceFailure",
    "SourceUnavailable",
    "TokenBucket",
    "UnsupportedPair",
    "build_source",
    "build_sources",
    "fetch_quotes",
    "rate_from_aggregate",
]

logger = logging.getLogger(__name__)

ADAPTERS: dict[str, type[Source]] = {
    cls.name: cls
    for cls in (
        CoinbaseSource,
        KrakenSource,
        BinanceSource,
        CoinGeckoSource,
        ChainlinkSource,
        IcpXrcSource,
    )
}
# Sources configured by their own settings (feeds, IC host) rather than a REST base URL.
NO_BASE_URL = frozenset({ChainlinkSource.name, IcpXrcSource.name})
# Sources that quote USDT-USD directly, from which Binance's conversion is measured.
USDT_USD_SOURCES = ("coinbase", "kraken", "coingecko")


def build_source(name: str, **overrides: Any) -> Source:
    """An adapter for source ``name`` with its URL and timeout from the settings
    (``ORACLE_SOURCE_URLS``, ``ORACLE_HTTP_TIMEOUT``) and the process-wide limiter
    and backoff store; ``overrides`` replace any constructor argument.
    Raises ``KeyError`` for an unknown name."""
    kwargs: dict[str, Any] = {"timeout": conf.http_timeout(), "user_agent": conf.user_agent()}
    if name not in NO_BASE_URL:
        kwargs["base_url"] = conf.source_url(name)
    kwargs.update(overrides)
    return ADAPTERS[name](**kwargs)


def build_sources(
    *,
    names: Sequence[str] | None = None,
    backoff: BackoffStore | None = None,
    limiter: Callable[[str], TokenBucket] | None = None,
) -> dict[str, Source]:
    """Adapters for ``names`` (default: the enabled ``ORACLE_SOURCES``) as
    ``build_source`` makes them, Binance wired to a ``MeasuredUsdtUsd`` over the
    other built sources that quote USDT-USD.

    ``backoff`` replaces the process-wide backoff store (e.g. ``CacheBackoffStore()``
    to share it between processes); ``limiter(name)`` gives each source its limiter
    instead of the process-wide one.
    """
    names = list(names or conf.enabled_sources())

    def build(name: str, **kwargs: Any) -> Source:
        if backoff is not None:
            kwargs["backoff"] = backoff
        if limiter is not None:
            kwargs["limiter"] = limiter(name)
        return build_source(name, **kwargs)

    built = {n: build(n) for n in names if n != "binance"}
    if "binance" in names:
        measuring = [built[n] for n in USDT_USD_SOURCES if n in built]
        built["binance"] = build("binance", usdt_usd=MeasuredUsdtUsd(sources=measuring))
    return built


@dataclass(frozen=True)
class Collected:
    """One round for one pair: the quotes obtained and the sources that failed."""

    pair: str
    quotes: tuple[Quote, ...]
    failures: tuple[SourceFailure, ...]


def fetch_quotes(*, sources: Sequence[Source], base: str, quote: str) -> Collected:
    """Ask every source for ``base``-``quote`` at once and collect the answers.

    Side effects: one request per source (fewer while backing off), in parallel
    threads; the whole call takes about the slowest source's timeout at most.
    Raises nothing for a source's failure: it is reported in ``failures``
    (an unexpected exception is logged and reported as ``internal``).
    """
    pair = f"{base.upper()}-{quote.upper()}"
    if not sources:
        return Collected(pair=pair, quotes=(), failures=())

    def one(source: Source) -> Quote | SourceFailure:
        try:
            return source.fetch(base=base, quote=quote)
        except SourceError as exc:
            return exc.as_failure(pair=pair)
        except Exception as exc:  # a bug in one adapter must not stop the others
            logger.exception("oracle source %s failed unexpectedly", source.name)
            return SourceFailure(source=source.name, pair=pair, code="internal", detail=repr(exc))

    with ThreadPoolExecutor(max_workers=len(sources), thread_name_prefix="oracle-fetch") as pool:
        results = list(pool.map(one, sources))
    return Collected(
        pair=pair,
        quotes=tuple(r for r in results if isinstance(r, Quote)),
        failures=tuple(r for r in results if isinstance(r, SourceFailure)),
    )


class MeasuredUsdtUsd:
    """A USDT-USD ``ConversionRate`` measured from sources quoting it directly,
    aggregated with the oracle's guards; never assumed to be 1.

    Calling it fetches USDT-USD from ``sources`` (reusing the last measurement for
    ``ttl`` seconds) and returns the aggregate's price; its ``observed_at`` is the
    oldest input's. Raises ``SourceUnavailable`` when the aggregate is not
    tradeable (too few sources, disagreement, a jump). Thread-safe.
    """

    def __init__(
        self,
        *,
        sources: Sequence[Source],
        rules: Rules | None = None,
        ttl: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = list(sources)
        self.rules = rules
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._last: Any = None  # the last Aggregate, also the jump guard's reference
        self._last_at = float("-inf")

    def __call__(self) -> ConversionRate:
        from oracle.aggregation import aggregate  # aggregation imports oracle.sources.base

        with self._lock:
            if self._last is None or self._clock() - self._last_at >= self.ttl:
                round_ = fetch_quotes(sources=self.sources, base="USDT", quote="USD")
                self._last = aggregate(
                    pair="USDT-USD",
                    quotes=round_.quotes,
                    failures=round_.failures,
                    now=datetime.fromtimestamp(self._clock(), tz=UTC),
                    previous=self._last,
                    rules=self.rules,
                )
                self._last_at = self._clock()
            return rate_from_aggregate(self._last)
