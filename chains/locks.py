"""Keeps ``HtlcLock`` in step with confirmed events; always the first to hear a batch
(``chains.events``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from chains import bulk
from chains.interface import HtlcEvent
from chains.models import ChainEvent, HtlcLock
from core.sql import IN_LIST_LIMITED, in_lists, in_values

Key = tuple[str, str]  # (network, lock_id)


def _existing(keys: set[Key]) -> dict[Key, HtlcLock]:
    """The recorded locks among `keys`: one query per network (one for a watcher batch), the
    lock ids in one parameter (``core.sql.in_values``), on the unique (network, lock_id)
    index."""
    by_network: dict[str, list[str]] = defaultdict(list)
    for network, lock_id in sorted(keys):
        by_network[network].append(lock_id)
    found: dict[Key, HtlcLock] = {}
    for network, ids in by_network.items():
        rows = HtlcLock.objects.filter(network=network, lock_id__in=in_values(ids))
        for row in rows.order_by():
            found[(row.network, row.lock_id)] = row
    return found


@dataclass(slots=True)
class _NewLock:
    """A lock first recorded by this batch, as it will be inserted: the replay changes its
    state like a row's, at a tenth of the cost of building an ``HtlcLock`` per event."""

    network: str
    lock_id: str
    contract: str
    token: str
    sender: str
    recipient: str
    amount: Decimal
    hashlock: str
    timelock: int
    locked_block: int
    state: int = HtlcLock.State.LOCKED
    preimage: str = ""

    def values(self, updated_at: datetime) -> tuple:
        """The values of ``LOCK_FIELDS``, in that order."""
        return (
            self.network,
            self.lock_id,
            self.contract,
            self.token,
            self.sender,
            self.recipient,
            self.amount,
            self.hashlock,
            self.timelock,
            self.state,
            self.preimage,
            self.locked_block,
            updated_at,
        )


def _new_lock(event: HtlcEvent) -> _NewLock:
    args = event.args
    return _NewLock(
        network=event.network,
        lock_id=event.lock_id,
        contract=event.contract,
        token=args["token"],
        sender=args["sender"],
        recipient=args["recipient"],
        amount=Decimal(args["amount"]),  # a decimal string of the uint256: exact
        hashlock=args["hashlock"].lower(),
        timelock=int(args["timelock"]),
        locked_block=event.block_number,
    )


# The columns a new lock is inserted with (``chains.bulk``: all but the primary key).
LOCK_FIELDS = (
    "network",
    "lock_id",
    "contract",
    "token",
    "sender",
    "recipient",
    "amount",
    "hashlock",
    "timelock",
    "state",
    "preimage",
    "locked_block",
    "updated_at",
)

HTLC_EVENTS = frozenset(
    {ChainEvent.Name.LOCKED, ChainEvent.Name.REDEEMED, ChainEvent.Name.REFUNDED}
)


def on_chain_event(events: Sequence[HtlcEvent]) -> None:
    """Apply a batch of confirmed events, or undo a batch that a reorg orphaned, in a
    constant number of queries: one read of the batch's recorded locks, then at most one
    delete, one bulk insert (a COPY on PostgreSQL, ``chains.bulk``) and one bulk update
    (the read one query per network, the delete split per ``core.sql.in_list_size()`` rows,
    the update per ``IN_LIST_LIMITED``).

    The end state is the one the events give applied one by one in the order given, each as
    follows; the batch is replayed in memory over the rows read, then written:

    - Locked records the lock (a repeat is a no-op); orphaned, it deletes it.
    - Redeemed / Refunded mark a recorded lock so (Redeemed keeps the preimage); orphaned,
      they put it back to locked if it is still in that end state. Of a lock not recorded,
      both are no-ops.

    Runs inside the watcher's transaction, under the network's cursor lock (the lock
    table's only writer), so the rows read cannot change before they are written. Orphaned
    events arrive newest first, so an orphaned Redeemed is undone before the Locked it
    followed.
    """
    found = _existing({(e.network, e.lock_id) for e in events})
    read = {key: (row.state, row.preimage) for key, row in found.items()}
    rows: dict[Key, HtlcLock | _NewLock | None] = dict(found)  # None: deleted by the batch
    for event in events:
        if event.name not in HTLC_EVENTS:  # the Escrow's: escrow.chain keeps orders
            continue
        key = (event.network, event.lock_id)
        row = rows.get(key)
        if event.name == ChainEvent.Name.LOCKED:
            if event.orphaned:
                rows[key] = None
            elif row is None:
                rows[key] = _new_lock(event)
            continue
        if row is None:
            continue
        ended = (
            HtlcLock.State.REDEEMED
            if event.name == ChainEvent.Name.REDEEMED
            else HtlcLock.State.REFUNDED
        )
        if event.orphaned:
            if row.state == ended:
                row.state, row.preimage = HtlcLock.State.LOCKED, ""
        else:
            row.state = ended
            row.preimage = (
                event.args.get("preimage", "") if ended == HtlcLock.State.REDEEMED else ""
            )
    # A row read but replaced within the batch (orphaned, then locked again) is deleted and
    # inserted afresh, as one by one; deletes go first for the unique (network, lock_id).
    gone = [old.pk for key, old in found.items() if rows[key] is not old]
    created = [row for row in rows.values() if isinstance(row, _NewLock)]
    changed = [
        row
        for key, row in found.items()
        if rows[key] is row and (row.state, row.preimage) != read[key]
    ]
    now = timezone.now()
    for row in changed:
        row.updated_at = now  # bulk_update leaves auto_now alone
    for chunk in in_lists(gone):
        HtlcLock.objects.filter(pk__in=chunk).delete()
    bulk.rows_insert(HtlcLock, LOCK_FIELDS, (row.values(now) for row in created))
    HtlcLock.objects.bulk_update(
        changed, ["state", "preimage", "updated_at"], batch_size=IN_LIST_LIMITED
    )
