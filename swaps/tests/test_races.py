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
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key, amount=Decimal("10"), max_trade=Decimal("1"))
    taker, _ = party(2)

    def take(i: int):
        return make_swap(listing=listing)[0]

    results = race(6, take)
    assert sum(isinstance(r, Swap) for r in results) == 2
    assert Swap.objects.filter(taker=taker).count() == 2
