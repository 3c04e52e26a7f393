"""What a swap GET and a swap's creation cost, held by tests (issue #15)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chains.tests.support import user as dev_account
from swaps import services
from swaps.tests.factories import eth_test_listing, make_swap, party, secret_pair

pytestmark = pytest.mark.django_db


def _oracle_reads(queries: CaptureQueriesContext) -> int:
    # Every read of the oracle (oracle.selectors.price_list) reads its halts once.
    return sum('"oracle_pairhalt"' in q["sql"] for q in queries.captured_queries)


def test_swap_get_costs_a_fixed_number_of_queries(api, swap_env):
    # given
    swap, *_ = make_swap()
    api.force_authenticate(swap.taker)
    api.get(f"/api/v1/swaps/{swap.pk}/")  # warm what is read once per process
    # when
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"/api/v1/swaps/{swap.pk}/")
    # then: the swap with its parties and assets, its events (prefetched), its dispute;
    # next_action asks the chains, not the database
    assert response.status_code == 200
    assert len(queries) == 3, [q["sql"][:80] for q in queries.captured_queries]


@pytest.mark.parametrize("market", [False, True], ids=["fixed", "market-relative"])
def test_creating_a_swap_reads_the_oracle_once(swap_env, market):
    # given
    maker, maker_key = party(1)
    extra = {"price": None, "price_margin_pct": Decimal("1")} if market else {}
    listing = eth_test_listing(maker, maker_key, **extra)
    taker, _ = party(2)
    # when
    with CaptureQueriesContext(connection) as queries:
        services.swap_create(
            taker=taker,
            listing_id=listing.pk,
            amount=Decimal("1"),
            hashlock=secret_pair()[1],
            taker_address=dev_account(2).address,
        )
    # then
    assert _oracle_reads(queries) == 1
