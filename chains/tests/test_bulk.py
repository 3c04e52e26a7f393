"""``chains.bulk.rows_insert`` stores what ``bulk_create`` would, on SQLite and (COPY) on
PostgreSQL alike: exact amounts, JSON as given, constraints enforced; ``core.sql.in_values``
matches exactly the values it is given, in one query."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chains import bulk, locks, watcher
from chains.models import ChainEvent, HtlcLock
from core.sql import in_values

pytestmark = pytest.mark.django_db

HUGE = Decimal(2**256 - 1)  # the largest uint256: past any float and any 64-bit integer


def _lock_row(lock_id: str, amount: Decimal) -> list:
    now = timezone.now()
    values = {
        "network": "local-a",
        "lock_id": lock_id,
        "contract": "0x" + "a" * 40,
        "token": "0x" + "0" * 40,
        "sender": "0x" + "1" * 40,
        "recipient": "0x" + "2" * 40,
        "amount": amount,
        "hashlock": "0x" + "3" * 64,
        "timelock": 2**40,
        "state": HtlcLock.State.LOCKED,
        "preimage": "",
        "locked_block": 7,
        "updated_at": now,
    }
    return [values[f] for f in locks.LOCK_FIELDS]


def test_rows_insert_keeps_uint256_amounts_exact():
    # given
    rows = [_lock_row(f"0x{i:064x}", HUGE - i) for i in range(3)]
    # when
    bulk.rows_insert(HtlcLock, locks.LOCK_FIELDS, rows)
    # then
    stored = dict(HtlcLock.objects.values_list("lock_id", "amount"))
    assert stored == {f"0x{i:064x}": HUGE - i for i in range(3)}


def test_rows_insert_stores_json_as_given_and_null_as_null():
    # given: args with nesting, unicode and numbers as strings, as the watcher decodes them
    args = {"id": "0x01", "amount": str(2**255), "nested": {"ok": True}, "text": "টাকা"}
    now = timezone.now()

    def event(log_index: int, value: dict) -> tuple:
        return ("local-a", "0x" + "f" * 64, log_index, 1, "0x" + "e" * 64, 1, "0x" + "a" * 40,
                "Locked", "0x01", value, False, now)  # fmt: skip

    # when
    bulk.rows_insert(ChainEvent, watcher.EVENT_FIELDS, [event(0, args)])
    # then
    assert ChainEvent.objects.get().args == args
    assert ChainEvent.objects.filter(args__nested__ok=True).count() == 1


def test_rows_insert_refuses_a_duplicate_like_an_insert():
    # given: a stored lock
    bulk.rows_insert(HtlcLock, locks.LOCK_FIELDS, [_lock_row("0x01", Decimal(1))])
    # when / then: the unique (network, lock_id) holds, as Django's IntegrityError
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.rows_insert(HtlcLock, locks.LOCK_FIELDS, [_lock_row("0x01", Decimal(2))])
    assert HtlcLock.objects.get().amount == 1


def test_rows_insert_refuses_a_primary_key_or_a_field_it_would_not_store_as_given():
    # given: an auto primary key (the database numbers rows) and a UUID (not a plain value)
    from swaps.models import Swap

    # when / then: refused even with no rows, so a wrong caller fails on SQLite too
    with pytest.raises(TypeError, match="HtlcLock.id"):
        bulk.rows_insert(HtlcLock, ["id"], [])
    with pytest.raises(TypeError, match="Swap.id"):
        bulk.rows_insert(Swap, ["id"], [])


def test_rows_insert_is_one_logged_statement_and_none_for_no_rows():
    # given
    rows = [_lock_row(f"0x{i:064x}", Decimal(i)) for i in range(50)]
    # when
    with CaptureQueriesContext(connection) as nothing:
        bulk.rows_insert(HtlcLock, locks.LOCK_FIELDS, [])
    with CaptureQueriesContext(connection) as fifty:
        bulk.rows_insert(HtlcLock, locks.LOCK_FIELDS, rows)
    # then
    assert len(nothing) == 0
    assert len(fifty) == 1, [q["sql"][:40] for q in fifty]
    assert HtlcLock.objects.count() == 50


def test_in_values_matches_exactly_the_values_given_in_one_query_and_one_parameter():
    # given: 1,200 locks (past SQLite's 999 parameters), and ids that SQL or JSON would
    # have to escape
    odd = ["0x'; DROP TABLE chains_htlclock; --", 'a,b"c\\d', "টাকা"]
    ids = [f"0x{i:064x}" for i in range(1200)] + odd
    bulk.rows_insert(HtlcLock, locks.LOCK_FIELDS, [_lock_row(i, Decimal(1)) for i in ids])
    wanted = ids[::2] + ["0x" + "f" * 64]  # every other one, and one not recorded
    # when
    with CaptureQueriesContext(connection) as queries:
        found = set(
            HtlcLock.objects.filter(lock_id__in=in_values(wanted)).values_list("lock_id", flat=True)
        )
    none = HtlcLock.objects.filter(lock_id__in=in_values([])).count()
    # then
    assert found == set(ids[::2])
    assert none == 0
    assert len(queries) == 1
    assert HtlcLock.objects.count() == len(ids)
