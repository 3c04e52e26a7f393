"""ListingResults of one arm: the first ids come with the count in one query (issue #15);
pages within and beyond that head, and an empty search, read what the queryset reads."""

from __future__ import annotations

import pytest

from accounts.models import Reputation
from accounts.tests.factories import UserFactory
from marketplace.selectors import ListingResults, listing_search
from marketplace.tests.factories import AssetFactory, ListingFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("params", [{}, {"ordering": "reputation"}, {"text": "fast"}])
def test_one_arm_pages_and_count_match_its_queryset(params, django_assert_num_queries):
    # given: more listings than the head, makers with different reputations
    makers = [UserFactory() for _ in range(4)]
    for swaps, maker in enumerate(makers[:3]):
        Reputation.objects.create(user=maker, completed_swaps=swaps)
    for i in range(ListingResults.HEAD + 12):
        ListingFactory(maker=makers[i % 4], terms="fast" if i % 3 else "slow")
    expected = list(listing_search(**params).arms[0].values_list("id", flat=True))
    results = listing_search(**params)
    # when: the count and the first page in one query, then a page beyond the head
    with django_assert_num_queries(1):
        count = results.count()
        first = results._ids(slice(0, 20))
    beyond = results._ids(slice(ListingResults.HEAD - 5, ListingResults.HEAD + 10))
    # then
    assert count == len(expected)
    assert first == expected[:20]
    assert results._ids(slice(20, 40)) == expected[20:40]
    assert beyond == expected[ListingResults.HEAD - 5 : ListingResults.HEAD + 10]
    assert [lst.pk for lst in results] == expected


def test_an_empty_search_counts_zero():
    # given
    ListingFactory(terms="fast")
    results = listing_search(text="nothing-matches-this")
    # then
    assert results.count() == 0
    assert results[0:20] == []


def test_page_rows_take_the_searched_assets_or_read_an_asset_added_since():
    # given: a search that read the assets, then a listing of an asset added after it
    first = ListingFactory()
    results = listing_search(pair="ETH-TEST")
    assert results.assets is not None
    head = results._ids(slice(0, 20))
    late_asset = AssetFactory(network="local-b", symbol="TEST", decimals=6, address="0x" + "d" * 40)
    late = ListingFactory(quote_asset=late_asset)
    results._head = ([late.pk, *head], len(head) + 1)  # as if it had matched the search
    # when
    page = results[0:20]
    # then: the searched asset objects, and the late one read with its row
    assert [lst.pk for lst in page] == [late.pk, first.pk]
    assert page[0].quote_asset == late_asset
    assert page[1].base_asset is results.assets[first.base_asset_id]
