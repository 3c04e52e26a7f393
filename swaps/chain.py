"""The watcher hook: a confirmed (or orphaned) HTLC event re-derives the swaps it concerns."""

from __future__ import annotations

from swaps import services


def on_chain_event(event) -> None:
    """Registered last in CHAIN_EVENT_HOOKS, after ``chains.locks`` has applied the event.

    Runs inside the watcher's transaction: if it raises, nothing of that pass is stored
    and the events come again, so a swap never misses one.
    """
    hashlock = event.args.get("hashlock") if event.name == "Locked" else None
    for swap_id in services.swaps_for_event(
        network=event.network, lock_id=event.lock_id, hashlock=hashlock
    ):
        services.swap_reconcile(swap_id=swap_id)
