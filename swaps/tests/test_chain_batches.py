"""The swaps' subscriber takes a whole batch: it finds the swaps the batch concerns in a
fixed number of queries, reconciles each once, and notifies the state the batch ends in."""

from __future__ import annotations

import logging
import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chains import locks
from chains.interface import HtlcEvent
from chains.tests.test_locks import htlc_event
from swaps import chain as swap_hook
from swaps import services
from swaps.models import Notification, Swap
from swaps.tests.test_machine_properties import World, new_swap

pytestmark = pytest.mark.django_db
S = Swap.State


def deliver(batch: list[HtlcEvent]) -> None:
    """As the watcher does: the lock table, then the swaps, each with the whole batch."""
    locks.on_chain_event(batch)
    swap_hook.on_chain_event(batch)


@pytest.fixture
def reconciled(monkeypatch) -> list:
    """The swap ids ``swap_reconcile`` is called with, in order."""
    calls: list = []
    real = services.swap_reconcile

    def counting(*, swap_id):
        calls.append(swap_id)
        return real(swap_id=swap_id)

    monkeypatch.setattr(services, "swap_reconcile", counting)
    return calls


def _world() -> tuple[Swap, World]:
    swap, secret = new_swap()
    return swap, World(swap=swap, secret=secret)


def _unrelated(n: int) -> list[HtlcEvent]:
    """`n` Locked and `n` Redeemed, the Redeemed of locks recorded earlier, none of them
    carrying a swap's hashlock."""
    recorded, new = (["0x" + os.urandom(32).hex() for _ in range(n)] for _ in range(2))
    locks.on_chain_event([htlc_event("Locked", i) for i in recorded])
    return [htlc_event("Locked", i, block=2) for i in new] + [
        htlc_event("Redeemed", i, block=2, preimage="0x" + "1" * 64) for i in recorded
    ]


def test_finding_the_swaps_of_a_batch_costs_the_same_queries_for_10_events_as_for_100(
    reconciled,
):
    # given: batches of 20 and of 200 events (Locked and Redeemed) that concern no swap
    counts = []
    for n in (10, 100):
        batch = _unrelated(n)
        locks.on_chain_event(batch)
        # when
        with CaptureQueriesContext(connection) as queries:
            swap_hook.on_chain_event(batch)
        counts.append(len(queries))
    # then: the lock table's hashlocks of the redeemed locks, then the swaps with any of them
    assert counts == [2, 2]
    assert reconciled == []


def test_a_batch_reconciles_each_swap_it_concerns_once_in_pk_order(reconciled):
    # given: three swaps, each with its taker's lock in the same batch, along with a
    # Redeemed of a lock of one of them and events of locks no swap knows
    worlds = [_world() for _ in range(3)]
    for _, world in worlds:
        world.lock("taker", "valid")
    batch = [world.streams["local-b"][0] for _, world in worlds]
    deliver(batch)
    reconciled.clear()
    first = worlds[0][1].streams["local-b"][0]
    again = [
        *_unrelated(3),
        htlc_event("Refunded", first.lock_id, network="local-b", block=200),
        *batch,
    ]
    # when
    deliver(again)
    # then
    assert reconciled == sorted(swap.pk for swap, _ in worlds)
    assert Swap.objects.get(pk=worlds[0][0].pk).state == S.REFUNDED


def test_a_batch_crossing_several_steps_notifies_only_the_state_it_ends_in(reconciled):
    # given: the taker's lock confirmed on its own (the maker is told to lock)
    swap, world = _world()
    world.lock("taker", "valid")
    deliver(world.streams["local-b"])
    assert Notification.objects.filter(swap=swap).count() == 1
    # when: one batch brings the maker's lock and the taker's redeem of it
    world.lock("maker", "valid")
    world.redeem("local-a", swap.taker_address, needs_reveal=False)
    deliver(world.streams["local-a"])
    # then: both steps recorded, the swap reconciled once per batch, and no "redeem now"
    # notice for a state the batch went past
    swap.refresh_from_db()
    assert swap.state == S.SECRET_REVEALED
    steps = list(swap.events.order_by("created_at").values_list("to_state", flat=True))
    assert steps[-2:] == [S.MAKER_LOCKED, S.SECRET_REVEALED]
    assert reconciled == [swap.pk, swap.pk]
    assert list(Notification.objects.filter(swap=swap).values_list("kind", flat=True)) == ["lock"]


def test_a_reorg_that_orphans_evidence_of_a_final_swap_is_logged_for_staff(caplog):
    # given: a completed swap
    swap, world = _world()
    world.lock("taker", "valid")
    world.lock("maker", "valid")
    world.redeem("local-a", swap.taker_address, needs_reveal=False)
    world.redeem("local-b", swap.maker_payout_address, needs_reveal=True)
    deliver(world.streams["local-b"][:1])
    deliver(world.streams["local-a"])
    deliver(world.streams["local-b"][1:])
    swap.refresh_from_db()
    assert swap.state == S.COMPLETED
    # when: a reorg orphans the maker's redeem and the taker's lock (newest first)
    orphaned = [HtlcEvent(**{**e.__dict__, "orphaned": True}) for e in world.streams["local-b"]]
    with caplog.at_level(logging.ERROR, logger="swaps.chain"):
        deliver(orphaned[::-1])
    # then: the swap stays final, and one error names it and the orphaned transactions
    swap.refresh_from_db()
    assert swap.state == S.COMPLETED
    [record] = [
        r for r in caplog.records if r.getMessage() == "reorg orphaned evidence of a final swap"
    ]
    assert record.swap == str(swap.pk)
    assert record.network == "local-b"
    assert record.txs == [e.tx_hash for e in orphaned[::-1]]
