"""Live swap updates: services announce a change on commit; consumers forward to parties."""

from __future__ import annotations

from core.live import group_send_on_commit


def group_name(swap_id) -> str:
    return f"swap.{swap_id}"


def announce_on_commit(swap_id, state: str) -> None:
    """After the commit, tell the swap's subscribers it is now in `state`; each consumer
    sends its party's view (see ``swaps.consumers``)."""
    group_send_on_commit(group_name(swap_id), {"type": "swap.changed", "state": state})


def message_announce_on_commit(swap_id, message_id) -> None:
    """After the commit, tell the swap's subscribers about a new message between the parties
    (`message_id`), or that the dispute changed (None); each consumer sends its party's
    view of it."""
    group_send_on_commit(group_name(swap_id), {"type": "swap.message", "message": message_id})
