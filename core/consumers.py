"""WebSocket consumers every app can build on: a ping, and the live view of one object
for its parties (a swap, an order)."""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from core.ws_auth import ws_user

logger = logging.getLogger(__name__)

POLL_SECONDS = 2.0
# Close codes: 4401 not signed in, 4404 not a party to this object (or no such object).
UNAUTHENTICATED, NOT_FOUND = 4401, 4404


class PingConsumer(AsyncJsonWebsocketConsumer):
    """Answers {"type": "ping"} with {"type": "pong"}; nothing else."""

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "unknown_message"})


class PartyConsumer(AsyncJsonWebsocketConsumer):
    """The live view of one object (`kind`, from the URL's ``<kind>_id``) for its parties.

    On connect: the party's current view, ``{"type": kind, kind: view}``; then the same after
    every change pushed to the object's channel-layer group, and ``{"type": "message"}`` for
    each new message. With the embedded in-memory layer, which cannot hear the worker
    process, it also looks at the object's state every POLL_SECONDS (one small query) and
    sends the view when it changed. It only sends; clients act through the API.

    Subclasses set `kind` and implement, synchronously (they run in a thread): `group_for`,
    `view` (None when the user may not see it), `state` and `message`.
    """

    kind = ""

    def group_for(self, object_id) -> str:
        raise NotImplementedError

    def view(self) -> dict | None:
        raise NotImplementedError

    def state(self) -> str | None:
        raise NotImplementedError

    def message(self, message_id: int) -> dict | None:
        raise NotImplementedError

    async def connect(self):
        self.group = None
        self.poller = None
        user, subprotocol = await ws_user(self.scope)
        if user is None:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user = user
        self.object_id = self.scope["url_route"]["kwargs"][f"{self.kind}_id"]
        # Join before the first read: a change made between the read and the join would
        # otherwise reach neither (its push is queued until connect returns, then re-read).
        self.group = self.group_for(self.object_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        try:
            view = await database_sync_to_async(self.view)()
        except BaseException:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            raise
        if view is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
            await self.close(code=NOT_FOUND)
            return
        await self.accept(subprotocol=subprotocol)
        await self._send(view)
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.poller:
            self.poller.cancel()

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "code": "read_only"})

    async def send_view(self) -> None:
        """The current view, now (a service pushed a change)."""
        view = await database_sync_to_async(self.view)()
        if view is None:  # no longer visible (an account deleted): stop
            await self.close(code=NOT_FOUND)
            return
        await self._send(view)

    async def send_message(self, message_id: int) -> None:
        found = await database_sync_to_async(self.message)(message_id)
        if found is not None:
            await self.send_json({"type": "message", "message": found})

    async def _send(self, view: dict) -> None:
        self.last_state = view["state"]
        await self.send_json({"type": self.kind, self.kind: view})

    async def _poll(self):
        try:
            while True:
                await asyncio.sleep(POLL_SECONDS)
                state = await database_sync_to_async(self.state)()
                if state is not None and state != self.last_state:
                    await self.send_view()
        except asyncio.CancelledError:
            raise
        except Exception:  # the client left mid-send (each server has its own error): stop
            logger.debug("%s poll ended", self.kind, exc_info=True)
