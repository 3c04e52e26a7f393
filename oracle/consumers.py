"""Live prices over WebSocket at /ws/prices/: a snapshot on connect, then every update.

Updates arrive through the channel layer's "prices" group (Redis in production). With
the embedded in-memory layer, which cannot hear the worker process, the consumer also
reads the shared cache every few seconds and sends what changed.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from oracle import selectors
from oracle.services import PRICES_GROUP

POLL_SECONDS = 2.0


class PricesConsumer(AsyncJsonWebsocketConsumer):
    """Public (prices are public); it only sends. No ORM writes."""

    async def connect(self):
        await self.accept()
        await self.channel_layer.group_add(PRICES_GROUP, self.channel_name)
        self.seen: dict[str, str] = {}
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

    async def price_update(self, event):
        price = event["price"]
        self.seen[price["pair"]] = price["updated_at"]
        await self.send_json({"type": "price", "price": price})

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
            await self.send_json({"type": "snapshot", "prices": prices})
        else:
            for price in changed:
                await self.send_json({"type": "price", "price": price})
