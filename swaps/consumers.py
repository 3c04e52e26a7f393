"""Live swap progress at /ws/swaps/{id}/, for the swap's two parties only.

On connect: the party's current view of the swap; then the same view after every change.
Changes arrive through the channel layer group of the swap (Redis in production). With
the embedded in-memory layer, which cannot hear the worker process, the consumer also
looks at the swap's state every few seconds (one small query) and sends the view when it
changed. Views are built by ``swap_detail_data``, whose next step is cached per swap and
block, so a push to many subscribers does not ask the chain once per subscriber.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from core.ws_auth import ws_user
from swaps import selectors
from swaps.api.serializers import swap_detail_data
from swaps.live import group_name

POLL_SECONDS = 2.0
# Close codes: 4401 not signed in, 4404 not a party to this swap (or no such swap).
UNAUTHENTICATED, NOT_FOUND = 4401, 4404


class SwapConsumer(AsyncJsonWebsocketConsumer):
    """It only sends; clients act through the API. No ORM writes."""

    async def connect(self):
        self.group = None
        self.poller = None
        user, subprotocol = await ws_user(self.scope)
        if user is None:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user = user
        self.swap_id = self.scope["url_route"]["kwargs"]["swap_id"]
        view = await self._view()
        if view is None:
            await self.close(code=NOT_FOUND)
            return
        await self.accept(subprotocol=subprotocol)
        self.group = group_name(self.swap_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.last_state = view["state"]
        await self.send_json({"type": "swap", "swap": view})
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.poller:
            self.poller.cancel()

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "code": "read_only"})

    async def swap_changed(self, event):
        await self._send_if_changed(force=True)

    async def swap_message(self, event):
        """A message between the parties (its id), or a change to the dispute (None)."""
        if event.get("message") is None:
            await self.send_json({"type": "dispute"})
            return
        found = await self._message(event["message"])
        if found is not None:
            await self.send_json({"type": "message", "message": found})

    @database_sync_to_async
    def _message(self, message_id: int):
        return selectors.swap_message_get(
            swap_id=self.swap_id, message_id=message_id, user=self.user
        )

    async def _poll(self):
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._send_if_changed(force=False)

    async def _send_if_changed(self, *, force: bool):
        if not force:
            state = await self._state()
            if state is not None and state == self.last_state:
                return
        view = await self._view()
        if view is None:
            await self.close(code=NOT_FOUND)
            return
        if force or view["state"] != self.last_state:
            self.last_state = view["state"]
            await self.send_json({"type": "swap", "swap": view})

    @database_sync_to_async
    def _state(self) -> str | None:
        return selectors.swap_state_get(swap_id=self.swap_id, user=self.user)

    @database_sync_to_async
    def _view(self):
        swap = selectors.swap_get(swap_id=self.swap_id, user=self.user)
        if swap is None:
            return None
        return swap_detail_data(swap, user=self.user)
