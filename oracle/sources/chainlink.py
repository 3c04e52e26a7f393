"""Chainlink price feeds, read on chain through ``chains.feeds``.

Configured per pair in ``ORACLE_CHAINLINK_FEEDS``::

    {"ETH-USD": {"network": "sepolia", "address": "0x694A...", "heartbeat": 3600}}

``network`` names an enabled network of ``CHAIN_NETWORKS`` (its RPC is used),
``address`` is the feed (the aggregator proxy) and ``heartbeat`` the feed's
documented maximum seconds between updates. A pair without a feed is
``UnsupportedPair``, and no RPC request is made for it.

The price is ``answer * 10**-decimals``, exact. A round is refused
(``SourceBadResponse``) when its answer is zero or negative, its round id is zero,
``answeredInRound < roundId`` (the answer was carried over from an older round),
its ``updatedAt`` lies more than ``ORACLE_MAX_CLOCK_SKEW_SECONDS`` ahead of our
clock, or it is older than the feed's heartbeat. ``observed_at`` is ``updatedAt``.

A feed updates on its deviation threshold or its heartbeat, so a healthy answer
can be up to ``heartbeat`` seconds old: the aggregation's max age for this source
(``ORACLE_SOURCE_MAX_AGE_SECONDS["chainlink"]``) must be at least the longest
heartbeat configured, or every Chainlink quote is excluded as stale.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, Inexact, Rounded
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from oracle import conf
from oracle.sources.base import (
    BackoffStore,
    Quote,
    Source,
    SourceBadResponse,
    SourceUnavailable,
    TokenBucket,
    UnsupportedPair,
    default_backoff_store,
    default_limiter,
    split_pair,
)

if TYPE_CHECKING:
    from chains.feeds import RoundData

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
# Exact scaling: an int256 answer has at most 78 digits; any rounding is a bug.
_EXACT = Context(prec=100, traps=[Inexact, Rounded])


@dataclass(frozen=True)
class ChainlinkFeed:
    """Where the feed of one pair lives and how often it must update (seconds)."""

    pair: str
    network: str
    address: str
    heartbeat: int


def chainlink_feeds() -> dict[str, ChainlinkFeed]:
    """The configured feeds by pair (``"ETH-USD"``), from ``ORACLE_CHAINLINK_FEEDS``
    (default: none), read at call time.

    Side effects: none. Raises ``ImproperlyConfigured`` for a malformed entry.
    """
    raw = settings.ORACLE_CHAINLINK_FEEDS
    if not isinstance(raw, Mapping):
        raise ImproperlyConfigured("ORACLE_CHAINLINK_FEEDS must be a dict of pair -> feed")
    result: dict[str, ChainlinkFeed] = {}
    for key, entry in raw.items():
        where = f"ORACLE_CHAINLINK_FEEDS[{key!r}]"
        try:
            base, quote = split_pair(str(key).upper())
        except ValueError as exc:
            raise ImproperlyConfigured(f"{where}: {exc}") from None
        if not isinstance(entry, Mapping):
            raise ImproperlyConfigured(f"{where} must be a dict")
        network, address, heartbeat = (entry.get(k) for k in ("network", "address", "heartbeat"))
        if not isinstance(network, str) or not network:
            raise ImproperlyConfigured(f"{where}['network'] must name a network")
        if not isinstance(address, str) or not _ADDRESS_RE.match(address):
            raise ImproperlyConfigured(f"{where}['address'] must be a 0x address, got {address!r}")
        if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat <= 0:
            raise ImproperlyConfigured(
                f"{where}['heartbeat'] must be positive seconds, got {heartbeat!r}"
            )
        pair = f"{base}-{quote}"
        result[pair] = ChainlinkFeed(
            pair=pair, network=network, address=address, heartbeat=heartbeat
        )
    return result


class ChainlinkSource(Source):
    """Chainlink feeds as a price source (see the module docstring).

    Reads its feeds from the settings at every fetch unless ``feeds`` is given.
    Holds no connection of its own (web3's client is shared per RPC URL), so
    ``close()`` does nothing.
    """

    name = "chainlink"
    # One JSON-RPC batch per fetch, on the RPC the watcher and relayer also use. Not
    # sized from a published limit (each RPC provider has its own): it is several
    # times what a refresh round needs.
    RATE = 5.0
    BURST = 5

    def __init__(
        self,
        *,
        timeout: float | None = None,
        user_agent: str = "",
        limiter: TokenBucket | None = None,
        backoff: BackoffStore | None = None,
        clock: Callable[[], float] = time.time,
        feeds: Mapping[str, ChainlinkFeed] | None = None,
    ) -> None:
        """``timeout`` is the longest wait for a limiter slot (default
        ``ORACLE_HTTP_TIMEOUT``); the RPC request itself is bounded by
        ``CHAIN_RPC_TIMEOUT``. ``user_agent`` is accepted for ``build_source`` and
        unused (web3 sends its own). ``clock`` gives epoch seconds.
        Raises ``ValueError`` for a non-positive timeout.
        """
        self.timeout = conf.http_timeout() if timeout is None else timeout
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        self._limiter = limiter or default_limiter(self.name, rate=self.RATE, burst=self.BURST)
        self._backoff = backoff if backoff is not None else default_backoff_store()
        self._clock = clock
        self._feeds = dict(feeds) if feeds is not None else None

    def close(self) -> None:
        """Nothing to close."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _fetch(self, *, base: str, quote: str) -> Quote:
        # Imported here: chains.selectors loads Django models, and oracle.sources (so
        # also the pure oracle.aggregation) must import before the app registry is ready.
        from chains import feeds, selectors

        pair = f"{base}-{quote}"
        feed = (self._feeds if self._feeds is not None else chainlink_feeds()).get(pair)
        if feed is None:
            raise UnsupportedPair(f"no Chainlink feed configured for {pair}", **self._ctx(pair))
        network = selectors.network_get(feed.network)
        if network is None:
            raise SourceUnavailable(
                f"network {feed.network!r} of the {pair} feed is not configured or not enabled",
                **self._ctx(pair),
            )
        self._take_slot(pair)
        try:
            data = feeds.chainlink_latest_round(network=network, address=feed.address)
        except feeds.FeedUnavailable as exc:
            raise SourceUnavailable(str(exc), **self._ctx(pair)) from exc
        except feeds.FeedInvalid as exc:
            raise SourceBadResponse(str(exc), **self._ctx(pair)) from exc
        received = self._now()
        self._check_round(data, feed=feed, now=received)
        price = _EXACT.scaleb(Decimal(data.answer), -data.decimals)
        return Quote(
            source=self.name,
            pair=pair,
            price=price,
            observed_at=datetime.fromtimestamp(data.updated_at, tz=UTC),
            fetched_at=received,
        )

    def _check_round(self, data: RoundData, *, feed: ChainlinkFeed, now: datetime) -> None:
        """Raise ``SourceBadResponse`` unless the round is a usable, fresh answer."""
        pair = feed.pair
        what = f"{data.description or feed.pair} feed {feed.address} round {data.round_id}"

        def refuse(reason: str) -> SourceBadResponse:
            return SourceBadResponse(f"{what}: {reason}", **self._ctx(pair))

        if data.answer <= 0:
            raise refuse(f"answer {data.answer} is not positive")
        if data.round_id == 0:
            raise refuse("round id is zero (no round reported)")
        if data.answered_in_round < data.round_id:
            raise refuse(
                f"answer carried over from round {data.answered_in_round} "
                "(answeredInRound < roundId)"
            )
        now_ts = now.timestamp()
        skew = conf.max_clock_skew_seconds()
        if data.updated_at > now_ts + skew:
            raise refuse(
                f"updatedAt {data.updated_at} is {data.updated_at - now_ts:.0f}s in the future "
                f"(max clock skew {skew}s)"
            )
        age = now_ts - data.updated_at
        if age > feed.heartbeat:
            raise refuse(f"updatedAt is {age:.0f}s old, beyond the {feed.heartbeat}s heartbeat")
