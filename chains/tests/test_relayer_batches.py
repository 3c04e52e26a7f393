"""The relayer's subscriber takes a whole batch: one read for all the siblings of the
batch's revealed secrets, and one queued redeem per sibling, on commit."""

from __future__ import annotations

import hashlib
import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chains import locks, relayer
from chains.interface import HtlcEvent
from chains.tests.test_locks import htlc_event

pytestmark = pytest.mark.django_db


def _secret() -> tuple[str, str]:
    preimage = os.urandom(32)
    return "0x" + preimage.hex(), "0x" + hashlib.sha256(preimage).hexdigest()


def _lock_id() -> str:
    return "0x" + os.urandom(32).hex()


def _queued(callbacks) -> list[tuple]:
    """The tasks queued on commit, as (name, args)."""
    return [cb.args for cb in callbacks]


def _swap_pair(preimage_hashlock, *, redeemed: bool) -> tuple[list[HtlcEvent], str]:
    """Two locks with one hashlock, on local-a and local-b; the local-a one redeemed when
    `redeemed`. Returns the events (the Locked ones first) and the local-b lock's id."""
    preimage, hashlock = preimage_hashlock
    a, b = _lock_id(), _lock_id()
    events = [
        htlc_event("Locked", a, network="local-a", hashlock=hashlock),
        htlc_event("Locked", b, network="local-b", hashlock=hashlock),
    ]
    if redeemed:
        events.append(htlc_event("Redeemed", a, network="local-a", block=2, preimage=preimage))
    return events, b


def _batch_of_redeems(n: int) -> tuple[list[HtlcEvent], list[tuple]]:
    """`n` Redeemed on local-a, their siblings live on local-b (recorded in the lock table);
    the redeems each sibling must get."""
    redeems, expected = [], []
    for _ in range(n):
        secret = _secret()
        events, sibling = _swap_pair(secret, redeemed=True)
        locks.on_chain_event(events[:2])
        redeems.append(events[2])
        expected.append(("chains.relay_redeem", ("local-b", sibling, secret[0])))
    return redeems, expected


def test_a_batch_of_redeems_reads_the_siblings_once_and_queues_each_redeem_on_commit(
    settings, django_capture_on_commit_callbacks
):
    # given: batches of 10 and of 100 Redeemed, each revealing the secret of a live lock
    settings.RELAYER_LOCK_FILTER = None
    counts, queued = [], []
    for n in (10, 100):
        redeems, expected = _batch_of_redeems(n)
        locks.on_chain_event(redeems)
        # when
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks() as callbacks,
        ):
            relayer.on_chain_event(redeems)
        counts.append(len(queries))
        queued.append(sorted(_queued(callbacks)) == sorted(expected))
    # then: one query either way; every sibling queued, nothing before the commit
    assert counts == [1, 1]
    assert queued == [True, True]


def test_siblings_are_judged_by_the_lock_table_as_the_batch_leaves_it(
    settings, django_capture_on_commit_callbacks
):
    # given: in one batch, a redeem that reveals a secret, then a sibling locked after it
    # (still live: redeemed), and another redeem of the same secret (queued once); a
    # second secret whose sibling is refunded later in the batch (not redeemed)
    settings.RELAYER_LOCK_FILTER = None
    first, second = _secret(), _secret()
    a, late, again = _lock_id(), _lock_id(), _lock_id()
    gone_a, gone_b = _lock_id(), _lock_id()
    batch = [
        htlc_event("Locked", a, hashlock=first[1]),
        htlc_event("Locked", again, hashlock=first[1]),
        htlc_event("Locked", gone_a, hashlock=second[1]),
        htlc_event("Locked", gone_b, hashlock=second[1]),
        htlc_event("Redeemed", a, block=2, preimage=first[0]),
        htlc_event("Redeemed", gone_a, block=2, preimage=second[0]),
        htlc_event("Locked", late, block=3, hashlock=first[1]),
        htlc_event("Redeemed", again, block=4, preimage=first[0]),
        htlc_event("Refunded", gone_b, block=5),
    ]
    locks.on_chain_event(batch)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        relayer.on_chain_event(batch)
    # then
    assert _queued(callbacks) == [("chains.relay_redeem", ("local-a", late, first[0]))]


def test_an_orphaned_batch_queues_nothing(settings, django_capture_on_commit_callbacks):
    # given: a revealed secret with a live sibling, then the redeem orphaned
    settings.RELAYER_LOCK_FILTER = None
    events, _ = _swap_pair(_secret(), redeemed=True)
    locks.on_chain_event(events)
    orphaned = [HtlcEvent(**{**events[2].__dict__, "orphaned": True})]
    locks.on_chain_event(orphaned)
    # when
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        relayer.on_chain_event(orphaned)
    # then
    assert callbacks == [] and len(queries) == 0


def test_the_lock_filter_still_decides_each_sibling(settings, django_capture_on_commit_callbacks):
    # given: two revealed secrets; the filter allows only the first's sibling
    secrets = [_secret(), _secret()]
    pairs = [_swap_pair(secret, redeemed=True) for secret in secrets]
    allowed = pairs[0][1]
    settings.RELAYER_LOCK_FILTER = "chains.tests.test_relayer_batches.only_allowed"
    ALLOWED[:] = [allowed]
    batch = [event for events, _ in pairs for event in events]
    locks.on_chain_event(batch)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        relayer.on_chain_event(batch)
    # then
    assert _queued(callbacks) == [("chains.relay_redeem", ("local-b", allowed, secrets[0][0]))]


ALLOWED: list[str] = []


def only_allowed(*, network: str, lock_id: str) -> bool:
    return lock_id in ALLOWED
