"""Live prices over WebSocket at /ws/prices/: a snapshot on connect, then every update.

Updates arrive through the channel layer's "prices" group (Redis in production). With
the embedded in-memory layer, which cannot hear the worker process, the consumer also
reads the shared cache every few seconds and sends what changed.

The socket carries every direct pair and the configured cross pairs. A page that shows
another cross pair (a market page: ``ETH-TEST`` is ETH-USD over TEST-USD) names it in the
query string, ``/ws/prices/?pairs=ETH-TEST``; such a pair is read again whenever a price
arrives and sent when it changed.

An update costs each socket next to nothing, so that hundreds of sockets per process hear it
quickly (issue #15): the frame comes encoded by the publisher and is forwarded as it is, no
database connection is checked first, and the extra pairs are read once per update for all
the sockets of a process that named the same ones.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from oracle import live, selectors
from oracle.services import PRICES_GROUP

POLL_SECONDS = 2.0
# At most this many extra pairs per socket, each BASE-QUOTE of price symbols; others ignored.
MAX_EXTRA_PAIRS = 4
PAIR_RE = re.compile(r"^[A-Z0-9]{1,12}-[A-Z0-9]{1,12}$")
# Shared reads of the extra pairs kept per process, by (update frame, pairs); the oldest go.
# Every socket of a process hears an update within milliseconds, so a few suffice.
SHARED_READS_KEPT = 64

_SharedRead = tuple[asyncio.AbstractEventLoop, "asyncio.Task[list[dict[str, Any]]]"]
_shared_reads: dict[tuple[str, tuple[str, ...]], _SharedRead] = {}


def extra_pairs(query_string: bytes) -> list[str]:
    """The well-formed pairs a client asked for in ``?pairs=A-B,C-D`` (upper-cased, once
    each, at most ``MAX_EXTRA_PAIRS``)."""
    query = parse_qs(query_string.decode("latin-1"))
    named = [p.strip().upper() for value in query.get("pairs", []) for p in value.split(",")]
    return [p for p in dict.fromkeys(named) if PAIR_RE.match(p)][:MAX_EXTRA_PAIRS]


class PricesConsumer(AsyncJsonWebsocketConsumer):
    """Public (prices are public); it only sends. No ORM writes."""

    async def connect(self):
        await self.accept()
        await self.channel_layer.group_add(PRICES_GROUP, self.channel_name)
        self.seen: dict[str, str] = {}
        self.extra = extra_pairs(self.scope.get("query_string", b""))
        # An extra (cross) pair's updated_at is its older leg's, so a change is seen by the
        # whole price, not by its time.
        self.extra_seen: dict[str, dict] = {}
        await self._send_changes(snapshot=True)
        self.poller = None
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code):
        await self.channel_layer.group_discard(PRICES_GROUP, self.channel_name)
        if getattr(self, "poller", None):
            self.poller.cancel()

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "code": "read_only"})

    async def dispatch(self, message):
        # Channels first closes stale database connections, a hop to the one thread database
        # calls share; 500 sockets queued for it on every update. An update needs no
        # database, and the extra pairs' read (database_sync_to_async) closes them itself.
        if message.get("type") == "price.update":
            await self.price_update(message)
        else:
            await super().dispatch(message)

    async def price_update(self, event):
        price = event["price"]
        self.seen[price["pair"]] = price["updated_at"]
        # An older publisher's event has no frame (a rolling restart): encode it here.
        text = event.get("text") or live.price_frame(price)
        await self.send(text_data=text)
        for extra in await self._extra_changes(update=text):
            await self.send(text_data=live.price_frame(extra))

    async def _poll(self):
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._send_changes(snapshot=False)

    async def _send_changes(self, *, snapshot: bool):
        prices = await database_sync_to_async(
            lambda: [agg.as_dict() for agg in selectors.price_list()]
        )()
        changed = [p for p in prices if self.seen.get(p["pair"]) != p["updated_at"]]
        for p in prices:
            self.seen[p["pair"]] = p["updated_at"]
        if snapshot:
            self.extra = [p for p in self.extra if p not in self.seen]
        extra = await self._extra_changes()
        if snapshot:
            await self.send_json({"type": "snapshot", "prices": prices + extra})
        else:
            for price in changed + extra:
                await self.send_json({"type": "price", "price": price})

    async def _extra_changes(self, *, update: str | None = None) -> list[dict]:
        """The extra pairs whose price changed since last sent (an unknown pair: never).

        After an `update` (its frame), the read is shared with this process's other sockets
        that named the same pairs.
        """
        if not self.extra:
            return []
        if update is None:
            prices = await _read_extra(tuple(self.extra))
        else:
            prices = await _shared_read_extra(update, tuple(self.extra))
        changed = [p for p in prices if self.extra_seen.get(p["pair"]) != p]
        for p in changed:
            self.extra_seen[p["pair"]] = p
        return changed


@database_sync_to_async
def _read_extra(pairs: tuple[str, ...]) -> list[dict[str, Any]]:
    return [agg.as_dict() for agg in selectors.price_list(pairs=list(pairs)) if agg]


def _shared_read_extra(update: str, pairs: tuple[str, ...]) -> asyncio.Future[list[dict[str, Any]]]:
    """One read of `pairs` after `update` for every socket of this process that asks (the
    first starts it, the others await the same task). Callers must not change the dicts."""
    loop = asyncio.get_running_loop()
    key = (update, pairs)
    shared = _shared_reads.get(key)
    if shared is None or shared[0] is not loop:
        shared = (loop, loop.create_task(_read_extra(pairs)))
        _shared_reads[key] = shared
        while len(_shared_reads) > SHARED_READS_KEPT:
            del _shared_reads[next(iter(_shared_reads))]
    # Shielded: a socket closing while it waits must not cancel the others' read.
    return asyncio.shield(shared[1])
