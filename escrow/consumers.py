"""Live order progress at /ws/orders/{id}/, for the order's buyer and seller only.

On connect: the party's current view of the order (as ``GET /api/v1/orders/{id}/``); then
the same view after every change of state or condition, and each new message of the
conversation. Changes arrive through the order's channel-layer group
(``escrow.services.live_group``), sent by the services on commit. With the embedded
in-memory layer, which cannot hear the worker process (where the watcher moves orders),
the consumer also looks at the order's state every few seconds (one small query).
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer

from core.ws_auth import ws_user
from escrow import selectors
from escrow.api.serializers import OrderMessageOutput, order_detail_data
from escrow.services import live_group

logger = logging.getLogger(__name__)
POLL_SECONDS = 2.0
# Close codes: 4401 not signed in, 4404 not a party to this order (or no such order).
UNAUTHENTICATED, NOT_FOUND = 4401, 4404


class OrderConsumer(AsyncJsonWebsocketConsumer):
    """It only sends; clients act through the API. No ORM writes."""

    async def connect(self):
        self.group = None
        self.poller = None
        user, subprotocol = await ws_user(self.scope)
        if user is None:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user = user
        self.order_id = self.scope["url_route"]["kwargs"]["order_id"]
        view = await self._view()
        if view is None:
            await self.close(code=NOT_FOUND)
            return
        await self.accept(subprotocol=subprotocol)
        self.group = live_group(self.order_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.last_state = view["state"]
        await self.send_json({"type": "order", "order": view})
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.poller:
            self.poller.cancel()

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "code": "read_only"})

    async def order_state(self, event):
        await self._send_view()

    async def order_condition(self, event):
        await self._send_view()

    async def order_message(self, event):
        found = await self._message(event["id"])
        if found is not None:
            await self.send_json({"type": "message", "message": found})

    async def _poll(self):
        try:
            while True:
                await asyncio.sleep(POLL_SECONDS)
                state = await self._state()
                if state is not None and state != self.last_state:
                    await self._send_view()
        except asyncio.CancelledError:
            raise
        except Exception:  # the client left mid-send (each server has its own error): stop
            logger.debug("order poll ended", exc_info=True)

    async def _send_view(self):
        view = await self._view()
        if view is None:  # no longer visible (an account deleted): stop
            await self.close(code=NOT_FOUND)
            return
        self.last_state = view["state"]
        await self.send_json({"type": "order", "order": view})

    @database_sync_to_async
    def _state(self) -> str | None:
        return selectors.order_state_get(order_id=self.order_id, user=self.user)

    @database_sync_to_async
    def _message(self, message_id: int) -> dict | None:
        message = selectors.order_message_get(
            order_id=self.order_id, message_id=message_id, user=self.user
        )
        return OrderMessageOutput(message).data if message is not None else None

    @database_sync_to_async
    def _view(self) -> dict | None:
        order = selectors.order_get(order_id=self.order_id, user=self.user)
        if order is None:
            return None
        return order_detail_data(order, user=self.user)
