"""Live order progress at /ws/orders/{id}/, for the order's buyer and seller only
(``core.consumers.PartyConsumer``): the party's view of the order (as
``GET /api/v1/orders/{id}/``) on connect and after every change of state or condition, and
each new message of the conversation, sent by the services on commit to the order's group
(``escrow.services.live_group``).
"""

from __future__ import annotations

from core.consumers import PartyConsumer
from escrow import selectors
from escrow.api.serializers import OrderMessageOutput, order_detail_data
from escrow.services import live_group


class OrderConsumer(PartyConsumer):
    kind = "order"

    def group_for(self, object_id) -> str:
        return live_group(object_id)

    def view(self) -> dict | None:
        order = selectors.order_get(order_id=self.object_id, user=self.user)
        return None if order is None else order_detail_data(order, user=self.user)

    def state(self) -> str | None:
        return selectors.order_state_get(order_id=self.object_id, user=self.user)

    def message(self, message_id: int) -> dict | None:
        found = selectors.order_message_get(
            order_id=self.object_id, message_id=message_id, user=self.user
        )
        return OrderMessageOutput(found).data if found is not None else None

    async def order_state(self, event):
        await self.send_view()

    async def order_condition(self, event):
        await self.send_view()

    async def order_message(self, event):
        await self.send_message(event["id"])
