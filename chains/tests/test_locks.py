"""The lock table takes a whole batch: the same end state as the events one by one, in a
number of queries that does not grow with the batch."""

from __future__ import annotations

import hashlib
import os
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chains import locks
from chains.interface import HtlcEvent
from chains.models import ChainEvent, HtlcLock

pytestmark = pytest.mark.django_db

LOCK_IDS = ["0x" + f"{i:064x}" for i in range(1, 4)]


def htlc_event(
    name: str, lock_id: str, *, network="local-a", block=1, orphaned=False, **args
) -> HtlcEvent:
    """An event as the watcher hands it on; a Locked gets plausible terms, with a hashlock
    derived from its lock id unless given."""
    if name == "Locked":
        args = {
            "token": "0x" + "0" * 40,
            "sender": "0x" + "1" * 40,
            "recipient": "0x" + "2" * 40,
            "amount": str(10**18 + block),
            "hashlock": "0x" + hashlib.sha256(lock_id.encode()).hexdigest().upper(),
            "timelock": "2000000000",
            **args,
        }
    return HtlcEvent(
        network=network,
        name=name,
        lock_id=lock_id,
        tx_hash="0x" + os.urandom(32).hex(),
        log_index=0,
        block_number=block,
        block_hash="0x" + os.urandom(32).hex(),
        block_timestamp=1_900_000_000 + block,
        contract="0x" + "c" * 40,
        args={"id": lock_id, **args},
        orphaned=orphaned,
    )


def _preimage() -> str:
    return "0x" + os.urandom(32).hex()


def one_by_one(event: HtlcEvent) -> None:
    """The lock table's rule for one event, as it was written before batches: the
    reference the batch must agree with."""
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


def _table() -> list[tuple]:
    return sorted(
        HtlcLock.objects.values_list(
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
        )
    )


def test_a_lock_locked_and_redeemed_in_one_batch_ends_redeemed_with_its_preimage():
    # given
    lock_id, preimage = LOCK_IDS[0], _preimage()
    # when
    locks.on_chain_event(
        [htlc_event("Locked", lock_id), htlc_event("Redeemed", lock_id, block=2, preimage=preimage)]
    )
    # then
    row = HtlcLock.objects.get(lock_id=lock_id)
    assert (row.state, row.preimage) == (HtlcLock.State.REDEEMED, preimage)
    assert row.hashlock == row.hashlock.lower() and row.amount == 10**18 + 1


def test_an_orphaned_batch_newest_first_undoes_the_redeem_then_the_lock():
    # given: one lock redeemed, another only locked, all confirmed
    kept, dropped, preimage = LOCK_IDS[0], LOCK_IDS[1], _preimage()
    confirmed = [
        htlc_event("Locked", kept, block=1),
        htlc_event("Locked", dropped, block=2),
        htlc_event("Redeemed", kept, block=3, preimage=preimage),
        htlc_event("Redeemed", dropped, block=4, preimage=preimage),
    ]
    locks.on_chain_event(confirmed)
    # when: a reorg orphans the last three, newest first
    locks.on_chain_event(
        [HtlcEvent(**{**e.__dict__, "orphaned": True}) for e in reversed(confirmed[1:])]
    )
    # then: the first lock is back to locked without its preimage; the second is gone
    assert _table() == [
        (*_table_row(kept), HtlcLock.State.LOCKED, "", 1),
    ]


def _table_row(lock_id: str) -> tuple:
    event = htlc_event("Locked", lock_id)
    args = event.args
    return (
        "local-a",
        lock_id,
        event.contract,
        args["token"],
        args["sender"],
        args["recipient"],
        Decimal(args["amount"]),
        args["hashlock"].lower(),
        int(args["timelock"]),
    )


def test_a_repeated_batch_changes_nothing_and_writes_nothing():
    # given
    batch = [
        htlc_event("Locked", LOCK_IDS[0]),
        htlc_event("Locked", LOCK_IDS[1], block=2),
        htlc_event("Refunded", LOCK_IDS[1], block=3),
    ]
    locks.on_chain_event(batch)
    before = _table()
    # when
    with CaptureQueriesContext(connection) as again:
        locks.on_chain_event(batch)
    # then: one read, no write
    assert _table() == before
    assert len(again) == 1 and again[0]["sql"].lstrip().upper().startswith("SELECT")


def _mixed_batch(n: int) -> list[HtlcEvent]:
    """`n` events of every kind: new locks, redeems and refunds of recorded locks and of
    new ones, on two networks."""
    batch: list[HtlcEvent] = []
    for i in range(n // 5):
        network = ("local-a", "local-b")[i % 2]
        old_a, old_b, new = (f"0x{k:02x}{i:062x}" for k in (1, 2, 3))
        batch += [
            htlc_event("Redeemed", old_a, network=network, block=i, preimage=_preimage()),
            htlc_event("Refunded", old_b, network=network, block=i),
            htlc_event("Locked", new, network=network, block=i),
            htlc_event("Redeemed", new, network=network, block=i, preimage=_preimage()),
            htlc_event("Locked", f"0x04{i:062x}", network=network, block=i),
        ]
    return batch


def _recorded_locks_for(batch: list[HtlcEvent]) -> None:
    locks.on_chain_event(
        [
            htlc_event("Locked", e.lock_id, network=e.network, block=e.block_number)
            for e in batch
            if e.lock_id.startswith(("0x01", "0x02"))
        ]
    )


def test_a_batch_costs_the_same_queries_for_10_events_as_for_100():
    # given: batches of 10 and of 100 mixed events, their earlier locks recorded
    small, large = _mixed_batch(10), _mixed_batch(100)
    _recorded_locks_for(small)
    # when
    with CaptureQueriesContext(connection) as ten:
        locks.on_chain_event(small)
    HtlcLock.objects.all().delete()
    _recorded_locks_for(large)
    with CaptureQueriesContext(connection) as hundred:
        locks.on_chain_event(large)
    # then: per network, one read; then one insert and one update
    assert len(ten) == len(hundred) == 4, [q["sql"][:60] for q in hundred]
    assert HtlcLock.objects.filter(state=HtlcLock.State.REDEEMED).count() == 40
    assert HtlcLock.objects.filter(state=HtlcLock.State.REFUNDED).count() == 20


def test_an_orphaned_batch_costs_the_same_queries_for_10_events_as_for_100():
    # given: 10 and 100 confirmed events (locked, half of them redeemed), applied
    def confirmed(n: int, prefix: int) -> list[HtlcEvent]:
        ids = [f"0x{prefix:02x}{i:062x}" for i in range(n // 2)]
        return [htlc_event("Locked", i) for i in ids] + [
            htlc_event("Redeemed", i, block=2, preimage=_preimage()) for i in ids
        ]

    small, large = confirmed(10, 1), confirmed(100, 2)
    locks.on_chain_event(small + large)

    def orphaned(batch):
        return [HtlcEvent(**{**e.__dict__, "orphaned": True}) for e in reversed(batch)]

    # when: the redeems of each batch are orphaned, then the whole of each
    counts = []
    for batch in (small, large):
        half = len(batch) // 2
        with CaptureQueriesContext(connection) as undo_redeems:
            locks.on_chain_event(orphaned(batch[half:]))
        with CaptureQueriesContext(connection) as undo_all:
            locks.on_chain_event(orphaned(batch))
        counts.append((len(undo_redeems), len(undo_all)))
    # then: a read and an update; a read and a delete
    assert counts == [(2, 2), (2, 2)]
    assert HtlcLock.objects.count() == 0


EVENTS = st.tuples(
    st.sampled_from(["Locked", "Redeemed", "Refunded"]),
    st.sampled_from(LOCK_IDS),
    st.booleans(),  # orphaned
    st.sampled_from(["local-a", "local-b"]),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.lists(EVENTS, max_size=8),
    batch=st.lists(EVENTS, min_size=1, max_size=12),
)
@example(  # a recorded lock orphaned, then locked again (other terms) in the same batch
    before=[("Locked", LOCK_IDS[0], False, "local-a")],
    batch=[("Locked", LOCK_IDS[0], True, "local-a"), ("Locked", LOCK_IDS[0], False, "local-a")],
)
def test_a_batch_ends_where_its_events_one_by_one_end(before, batch):
    # given: a lock table left by some earlier events, and any batch of events (repeats,
    # orphans, events of unrecorded locks, even orphans mixed with confirmed ones)
    def events(specs, first_block):
        return [
            htlc_event(
                name,
                lock_id,
                network=network,
                block=first_block + i,
                orphaned=orphaned,
                preimage=f"0x{first_block + i:064x}",
            )
            if name == "Redeemed"
            else htlc_event(
                name, lock_id, network=network, block=first_block + i, orphaned=orphaned
            )
            for i, (name, lock_id, orphaned, network) in enumerate(specs)
        ]

    earlier, now = events(before, 1), events(batch, 100)
    HtlcLock.objects.all().delete()
    for event in earlier:
        one_by_one(event)
    # when: the batch is applied event by event by the reference rule
    for event in now:
        one_by_one(event)
    expected = _table()
    # and, from the same start, as one batch
    HtlcLock.objects.all().delete()
    for event in earlier:
        one_by_one(event)
    locks.on_chain_event(now)
    # then
    assert _table() == expected


def test_new_locks_are_copied_in_by_one_statement_on_postgresql(postgres_url):
    # given: a batch of new locks (an exact decimal amount column among the fields)
    batch = [htlc_event("Locked", f"0x{i:064x}", block=i) for i in range(1, 201)]
    # when
    with CaptureQueriesContext(connection) as queries:
        locks.on_chain_event(batch)
    # then: one COPY (chains.bulk), not an INSERT of 200 rows of values, which costs several
    # times more to build for a watcher batch; and every amount to the last unit
    writes = [q["sql"] for q in queries if q["sql"].startswith(("INSERT", "COPY"))]
    assert len(writes) == 1 and writes[0].startswith('COPY "chains_htlclock"'), writes
    assert HtlcLock.objects.count() == 200
    assert HtlcLock.objects.get(lock_id=f"0x{7:064x}").amount == 10**18 + 7
    assert HtlcLock.objects.get(lock_id=f"0x{7:064x}").updated_at is not None
