"""The one way a service tells live subscribers (WebSocket consumers) about a change."""

from __future__ import annotations

import logging
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def group_send(group: str, message: dict) -> None:
    """Send `message` to the channel-layer `group` now.

    A failure to reach the channel layer is logged, never raised: what changed is committed
    and clients also see it on their next read.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        logger.exception("live broadcast failed", extra={"group": group})


def group_send_on_commit(group: str, message: dict) -> None:
    """``group_send`` once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(partial(group_send, group, message))
