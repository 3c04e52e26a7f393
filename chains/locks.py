"""Keeps ``HtlcLock`` in step with confirmed events; always the first to hear one
(``chains.events``)."""

from __future__ import annotations

from decimal import Decimal

from chains.interface import HtlcEvent
from chains.models import ChainEvent, HtlcLock


def on_chain_event(event: HtlcEvent) -> None:
    """Apply one confirmed event, or undo it when a reorg orphans it.

    Runs inside the watcher's transaction. Orphaned events arrive newest first, so an
    orphaned Redeemed is undone before the Locked it followed.
    """
    key = {"network": event.network, "lock_id": event.lock_id}
    if event.name == ChainEvent.Name.LOCKED:
        if event.orphaned:
            HtlcLock.objects.filter(**key).delete()
            return
        args = event.args
        HtlcLock.objects.get_or_create(
            **key,
            defaults={
                "contract": event.contract,
                "token": args["token"],
                "sender": args["sender"],
                "recipient": args["recipient"],
                "amount": Decimal(args["amount"]),
                "hashlock": args["hashlock"].lower(),
                "timelock": int(args["timelock"]),
                "locked_block": event.block_number,
            },
        )
        return
    ended = (
        HtlcLock.State.REDEEMED
        if event.name == ChainEvent.Name.REDEEMED
        else HtlcLock.State.REFUNDED
    )
    if event.orphaned:
        HtlcLock.objects.filter(**key, state=ended).update(state=HtlcLock.State.LOCKED, preimage="")
    else:
        HtlcLock.objects.filter(**key).update(
            state=ended,
            preimage=event.args.get("preimage", "") if ended == HtlcLock.State.REDEEMED else "",
        )
