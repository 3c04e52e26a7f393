"""Live swap progress at /ws/swaps/{id}/, for the swap's two parties only
(``core.consumers.PartyConsumer``: the view on connect, after every change, and each new
message). Views are built by ``swap_detail_data``, whose next step is cached per swap and
block, so a push to many subscribers does not ask the chain once per subscriber.
"""

from __future__ import annotations

from core.consumers import PartyConsumer
from swaps import selectors
from swaps.api.serializers import swap_detail_data
from swaps.live import group_name


class SwapConsumer(PartyConsumer):
    kind = "swap"

    def group_for(self, object_id) -> str:
        return group_name(object_id)

    def view(self) -> dict | None:
        swap = selectors.swap_get(swap_id=self.object_id, user=self.user)
        return None if swap is None else swap_detail_data(swap, user=self.user)

    def state(self) -> str | None:
        return selectors.swap_state_get(swap_id=self.object_id, user=self.user)

    def message(self, message_id: int) -> dict | None:
        return selectors.swap_message_get(
            swap_id=self.object_id, message_id=message_id, user=self.user
        )

    async def swap_changed(self, event):
        await self.send_view()

    async def swap_message(self, event):
        """A message between the parties (its id), or a change to the dispute (None)."""
        if event.get("message") is None:
            await self.send_json({"type": "dispute"})
            return
        await self.send_message(event["message"])
