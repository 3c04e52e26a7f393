"""The swaps' subscriber to chain events: a batch of confirmed (or orphaned) HTLC events
re-derives the swaps it concerns, each once."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from chains import selectors as chain_selectors
from chains.interface import HtlcEvent
from core.sql import in_values
from swaps import services
from swaps.models import TERMINAL_STATES, Swap

logger = logging.getLogger(__name__)


def _by_hashlock(events: Sequence[HtlcEvent]) -> dict[str, list[HtlcEvent]]:
    """The batch's events under the hashlock each concerns: a Locked carries it; a Redeemed
    or Refunded has its lock's, from a Locked of the same batch (an orphaned batch may have
    deleted that lock already) or else from the lock table (one query for the batch). An
    event of a lock never recorded concerns no swap."""
    carried = {
        (e.network, e.lock_id): e.args["hashlock"].lower() for e in events if e.name == "Locked"
    }
    recorded = chain_selectors.htlc_lock_hashlocks(
        {(e.network, e.lock_id) for e in events} - carried.keys()
    )
    found: dict[str, list[HtlcEvent]] = defaultdict(list)
    for event in events:
        key = (event.network, event.lock_id)
        hashlock = carried.get(key) or recorded.get(key)
        if hashlock is not None:
            found[hashlock].append(event)
    return found


def swaps_with_hashlocks(hashlocks: Sequence[str]) -> list[tuple[UUID, str]]:
    """(id, hashlock) of the swaps carrying any of `hashlocks` (lowercase), in pk order (the
    order rows are locked in): one query, the hashlocks in one parameter
    (``core.sql.in_values``: a literal IN list of a batch's hashlocks cost more than the
    rest of this subscriber); none for no hashlocks."""
    if not hashlocks:
        return []
    rows = Swap.objects.filter(hashlock__in=in_values(hashlocks)).order_by()
    return sorted(rows.values_list("pk", "hashlock"))


def on_chain_event(events: Sequence[HtlcEvent]) -> None:
    """Subscribed in ``SwapsConfig.ready()``; ``chains.events`` calls it with a batch after
    the lock table has applied the whole batch.

    Finds the swaps the batch concerns in two queries (the lock table's hashlocks of its
    Redeemed and Refunded locks, then the swaps with any of the batch's hashlocks) and
    reconciles each once: ``swap_reconcile`` reads the facts as the batch leaves them, so
    once per batch ends in the same state as once per event, and notifies only that state.

    Runs inside the watcher's transaction: if it raises, nothing of that batch is stored
    and the events come again, so a swap never misses one. A reorg that orphans evidence
    of a swap already final cannot be undone here; it is logged as an error for staff.
    """
    concerned = _by_hashlock(events)
    for swap_id, hashlock in swaps_with_hashlocks(sorted(concerned)):
        swap = services.swap_reconcile(swap_id=swap_id)
        orphaned = [e for e in concerned[hashlock] if e.orphaned]
        if orphaned and swap.state in TERMINAL_STATES:
            logger.error(
                "reorg orphaned evidence of a final swap",
                extra={
                    "swap": str(swap_id),
                    "network": orphaned[0].network,
                    "tx": orphaned[0].tx_hash,
                    "txs": [e.tx_hash for e in orphaned],
                },
            )
