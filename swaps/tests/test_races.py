"""Races on PostgreSQL with real threads, each with its own database connection."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.models import Listing
from swaps.models import Swap
from swaps.tests.factories import eth_test_listing, make_swap, party
from testing.support import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_takes_never_sell_more_than_the_listing_has(postgres_url, swap_env, settings):
    # given: 3 ETH left, takers asking 1 ETH each, 8 at once (two users, four each)
    settings.SWAP_MAX_OPEN_PER_USER = 10
    settings.SWAP_MAX_UNLOCKED_PER_USER = 10
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key)
    for index in (2, 3):
        party(index)  # both takers exist before the race

    def take(i: int):
        return make_swap(listing=listing, taker_index=2 + i % 2)[0]

    # when
    results = race(8, take)

    # then: exactly three swaps, nothing left, the rest refused with a code
    created = [r for r in results if isinstance(r, Swap)]
    assert len(created) == 3
    assert Listing.objects.get(pk=listing.pk).remaining == Decimal("0")
    assert all(
        r in ("insufficient_remaining", "listing_unavailable") for r in results if r not in created
    )


def test_the_open_swap_cap_holds_under_parallel_requests(postgres_url, swap_env, settings):
    settings.SWAP_MAX_OPEN_PER_USER = 2
    settings.SWAP_MAX_UNLOCKED_PER_USER = 10  # the open-swap cap is the one under test
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key, amount=Decimal("10"), max_trade=Decimal("1"))
    taker, _ = party(2)

    def take(i: int):
        return make_swap(listing=listing)[0]

    results = race(6, take)
    assert sum(isinstance(r, Swap) for r in results) == 2
    assert Swap.objects.filter(taker=taker).count() == 2


def test_the_unlocked_swap_cap_holds_under_parallel_requests(postgres_url, swap_env, settings):
    # given: a taker may hold two swaps they have not locked
    settings.SWAP_MAX_OPEN_PER_USER = 10
    settings.SWAP_MAX_UNLOCKED_PER_USER = 2
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key, amount=Decimal("10"), max_trade=Decimal("1"))
    taker, _ = party(2)

    # when: six takes at once
    results = race(6, lambda i: make_swap(listing=listing)[0])

    # then: two swaps, the rest refused with the cap's code
    assert sum(isinstance(r, Swap) for r in results) == 2
    assert [r for r in results if not isinstance(r, Swap)] == ["too_many_unlocked_swaps"] * 4
    assert Swap.objects.filter(taker=taker, state="created").count() == 2


def test_a_suspended_user_can_neither_take_nor_publish_under_parallel_requests(
    postgres_url, swap_env, settings
):
    # given: the taker's faults reached the suspension count
    from datetime import timedelta

    from django.utils import timezone

    from accounts import services as account_services
    from marketplace import services as market_services
    from marketplace.errors import ListingError

    settings.SWAP_MAX_OPEN_PER_USER = 10
    settings.SWAP_MAX_UNLOCKED_PER_USER = 10
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key, amount=Decimal("10"), max_trade=Decimal("1"))
    taker, taker_key = party(2)
    account_services.reputation_update(
        user=taker,
        completed_swaps=0,
        volume_usd=Decimal(0),
        refunded_swaps=0,
        disputes_opened=0,
        disputes_lost=0,
        failed_swaps=3,
        suspended_until=timezone.now() + timedelta(hours=24),
    )

    # when: six takes at once
    results = race(6, lambda i: make_swap(listing=listing)[0])

    # then: none goes through, each refused as suspended
    assert results == ["suspended"] * 6
    assert not Swap.objects.filter(taker=taker).exists()
    # and the suspended user cannot publish a listing either
    with pytest.raises(ListingError) as refused:
        market_services.listing_create(
            maker=taker,
            base_asset_id=listing.base_asset_id,
            quote_asset_id=listing.quote_asset_id,
            amount=Decimal("1"),
            min_trade=Decimal("1"),
            max_trade=Decimal("1"),
            price=Decimal("2.5"),
            payout_address=taker_key.address,
            refund_address=taker_key.address,
        )
    assert refused.value.get_codes() == "suspended"
