"""The swaps' subscriber to chain events: a confirmed (or orphaned) HTLC event re-derives
the swaps it concerns."""

from __future__ import annotations

import logging

from chains.interface import HtlcEvent
from swaps import services
from swaps.models import TERMINAL_STATES

logger = logging.getLogger(__name__)


def on_chain_event(event: HtlcEvent) -> None:
    """Subscribed in ``SwapsConfig.ready()``; ``chains.events`` calls it after the lock table
    has applied the event.

    Runs inside the watcher's transaction: if it raises, nothing of that pass is stored
    and the events come again, so a swap never misses one. A reorg that orphans evidence
    of a swap already final cannot be undone here; it is logged as an error for staff.
    """
    hashlock = event.args.get("hashlock") if event.name == "Locked" else None
    for swap_id in services.swaps_for_event(
        network=event.network, lock_id=event.lock_id, hashlock=hashlock
    ):
        swap = services.swap_reconcile(swap_id=swap_id)
        if event.orphaned and swap.state in TERMINAL_STATES:
            logger.error(
                "reorg orphaned evidence of a final swap",
                extra={"swap": str(swap_id), "network": event.network, "tx": event.tx_hash},
            )
