"""Swap and lock amounts are exact in the database, on SQLite too, and survive the migration.

A plain DecimalField is a REAL on SQLite (15 significant digits): these fail with it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum
from django.utils import timezone

from accounts.tests.factories import UserFactory
from chains.models import HtlcLock
from marketplace.tests.factories import ListingFactory
from swaps.models import Swap
from swaps.tests.factories import secret_pair

ADDRESS = "0x" + "1" * 40
# An 18-decimal amount above 10^10: 29 significant digits.
BIG_AMOUNT = Decimal("12345678901.123456789012345678")
# A 60-digit lock amount in base units.
BIG_UNITS = Decimal("123456789012345678901234567890123456789012345678901234567890")


def _swap(**amounts) -> Swap:
    """A swap row with the given amounts (storage only: no service, no chain involved)."""
    listing = ListingFactory()
    values = {
        "amount": Decimal("1"),
        "quote_amount": Decimal("2000"),
        "price": Decimal("2000"),
        "value_usd": Decimal("2.50"),
        **amounts,
    }
    return Swap.objects.create(
        listing=listing,
        maker=listing.maker,
        taker=UserFactory(),
        base_asset=listing.base_asset,
        quote_asset=listing.quote_asset,
        hashlock=secret_pair()[1],
        taker_address=ADDRESS,
        taker_refund_address=ADDRESS,
        maker_payout_address=ADDRESS,
        maker_refund_address=ADDRESS,
        taker_timelock=2_000_000_000,
        maker_timelock=1_999_990_000,
        quote_expires_at=timezone.now() + timedelta(minutes=10),
        **values,
    )


def _lock(amount: Decimal, lock_id: str = "0x" + "a" * 64) -> HtlcLock:
    """A lock row as the watcher records it (storage only)."""
    return HtlcLock.objects.create(
        network="local-a",
        lock_id=lock_id,
        contract=ADDRESS,
        token="0x" + "0" * 40,
        sender=ADDRESS,
        recipient=ADDRESS,
        amount=amount,
        hashlock=secret_pair()[1],
        timelock=2_000_000_000,
        locked_block=1,
    )


@pytest.mark.django_db
def test_swap_amounts_and_a_lock_amount_round_trip_exactly():
    # given
    quote_amount = Decimal("987654321098765432109876.543210")
    swap = _swap(
        amount=BIG_AMOUNT,
        quote_amount=quote_amount,
        price=Decimal("80000000000000.000000000000000001"),
        value_usd=Decimal("9876543210987654321098.76"),
    )
    lock = _lock(BIG_UNITS)
    # when
    swap.refresh_from_db()
    lock.refresh_from_db()
    # then
    assert swap.amount == BIG_AMOUNT
    assert swap.quote_amount == quote_amount
    assert swap.price == Decimal("80000000000000.000000000000000001")
    assert swap.value_usd == Decimal("9876543210987654321098.76")
    assert lock.amount == BIG_UNITS
    assert int(lock.amount) == int(BIG_UNITS)
    assert HtlcLock.objects.filter(amount=BIG_UNITS).get() == lock
    assert not HtlcLock.objects.filter(amount=BIG_UNITS + 1).exists()
    assert Swap.objects.filter(amount__gt=BIG_AMOUNT - Decimal("1E-18")).get() == swap
    assert not Swap.objects.filter(amount__gt=BIG_AMOUNT).exists()


@pytest.mark.django_db
def test_amounts_compare_as_numbers_and_sums_come_back_as_decimals():
    # given: values whose text would sort differently from their numbers
    small = _swap(amount=Decimal("0.5"), value_usd=Decimal("9.99"))
    large = _swap(amount=Decimal("10"), value_usd=Decimal("100.01"))
    # when
    total = Swap.objects.aggregate(total=Sum("value_usd"))["total"]
    # then
    assert list(Swap.objects.filter(amount__lt=Decimal("2"))) == [small]
    assert list(Swap.objects.order_by("-amount")) == [large, small]
    assert isinstance(total, Decimal) and total == Decimal("110.00")


def _migrate(targets: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_exact_amount_migrations_keep_stored_values():
    # given: a row stored in the exact form, then the tables as they were before (plain
    # DecimalFields), with rows stored in the old form
    before = [("swaps", "0002_state_labels"), ("chains", "0001_initial")]
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()  # every app, at its last
    listing, taker = ListingFactory(), UserFactory()
    kept = _swap(amount=Decimal("0.75"), value_usd=Decimal("1.88"))
    try:
        old = _migrate(before)
        assert old.get_model("swaps", "Swap").objects.get(pk=kept.pk).amount == Decimal("0.75")
        old_swap = old.get_model("swaps", "Swap").objects.create(
            listing_id=listing.pk,
            maker_id=listing.maker_id,
            taker_id=taker.pk,
            base_asset_id=listing.base_asset_id,
            quote_asset_id=listing.quote_asset_id,
            amount=Decimal("0.5"),
            quote_amount=Decimal("1000"),
            price=Decimal("2000"),
            value_usd=None,
            hashlock=secret_pair()[1],
            taker_address=ADDRESS,
            taker_refund_address=ADDRESS,
            maker_payout_address=ADDRESS,
            maker_refund_address=ADDRESS,
            taker_timelock=2_000_000_000,
            maker_timelock=1_999_990_000,
            quote_expires_at=timezone.now(),
            state="flagged",
        )
        # 15 digits: what the old column kept exactly on SQLite
        old.get_model("chains", "HtlcLock").objects.create(
            network="local-a",
            lock_id="0x" + "b" * 64,
            contract=ADDRESS,
            token="0x" + "0" * 40,
            sender=ADDRESS,
            recipient=ADDRESS,
            amount=Decimal("123456789012345"),
            hashlock=secret_pair()[1],
            timelock=2_000_000_000,
            locked_block=1,
        )
    finally:
        # when
        _migrate(latest)
    # then: the same values, and they compare as numbers in the new form
    swap = Swap.objects.get(pk=old_swap.pk)
    assert (swap.amount, swap.quote_amount, swap.price) == (
        Decimal("0.5"),
        Decimal("1000"),
        Decimal("2000"),
    )
    assert swap.value_usd is None
    assert Swap.objects.get(pk=kept.pk).value_usd == Decimal("1.88")
    assert swap.get_state_display() == "Flagged for review"
    assert set(Swap.objects.filter(amount__gt=Decimal("0.25"), amount__lt=1)) == {swap, kept}
    assert HtlcLock.objects.get(lock_id="0x" + "b" * 64).amount == Decimal("123456789012345")
    assert HtlcLock.objects.filter(amount__gt=Decimal("99999999999999")).exists()
