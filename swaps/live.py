"""Live swap updates: services call ``broadcast`` on commit; consumers forward to parties."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def group_name(swap_id) -> str:
    return f"swap.{swap_id}"


def broadcast(swap_id, state: str) -> None:
    """Tell the swap's subscribers it changed; each consumer re-reads its user's view.

    A failure to reach the channel layer is logged, never raised: the change is committed
    and clients also see it on their next read.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            group_name(swap_id), {"type": "swap.changed", "state": state}
        )
    except Exception:
        logger.exception("swap broadcast failed", extra={"swap": str(swap_id)})
