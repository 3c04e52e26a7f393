"""Current prices: fixed as stored; market-relative from the oracle at read time, in Python
and in SQL alike (the offer book sorts and filters by the SQL one)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from marketplace.errors import ListingError
from marketplace.models import Listing
from marketplace.selectors import (
    listing_price,
    listing_prices,
    listing_quote,
    listing_search,
)
from marketplace.tests.factories import AssetFactory, ListingFactory, eth_asset, token_asset
from marketplace.tests.support import publish_prices
from oracle.services import pair_halt

pytestmark = pytest.mark.django_db


@pytest.fixture
def prices(settings):
    # ETH-TEST crosses through USD: 2000 / 1 = 2000
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})


def test_listing_price_of_a_fixed_listing_is_its_price():
    # given
    listing = ListingFactory(price=Decimal("1999.123456"))
    # then
    assert listing_price(listing) == Decimal("1999.123456")


def test_listing_price_applies_the_margin_to_the_oracle_price(prices):
    # given
    listing = ListingFactory(market=True, price_margin_pct=Decimal("1.5"))
    # then
    assert listing_price(listing) == Decimal("2030")


def test_listing_price_rounds_up_to_the_quote_asset_places(settings):
    # given: 2000.0000001 * (1 + 0.0001/100) = 2000.0020001000001, more places than TEST's 6
    publish_prices(settings, {"ETH-USD": "2000.0000001", "TEST-USD": "1"})
    listing = ListingFactory(market=True, price_margin_pct=Decimal("0.0001"))
    # then: rounded up, never down
    assert listing_price(listing) == Decimal("2000.002001")


@pytest.mark.parametrize(
    ("margin", "floor", "ceiling", "expected"),
    [
        (Decimal("-10"), Decimal("1900"), None, Decimal("1900")),
        (Decimal("10"), None, Decimal("2100"), Decimal("2100")),
        (Decimal("2"), Decimal("1900"), Decimal("2100"), Decimal("2040")),
    ],
)
def test_listing_price_is_clamped_to_floor_and_ceiling(prices, margin, floor, ceiling, expected):
    # given
    listing = ListingFactory(
        market=True, price_margin_pct=margin, price_floor=floor, price_ceiling=ceiling
    )
    # then
    assert listing_price(listing) == expected


def test_a_halted_pair_makes_market_listings_unavailable_not_stale(prices):
    # given
    listing = ListingFactory(market=True)
    assert listing_price(listing) is not None
    # when
    pair_halt(pair="ETH-TEST", reason="sources disagree", user=UserFactory())
    # then
    assert listing_price(listing) is None
    with pytest.raises(ListingError) as exc:
        listing_quote(listing=listing, amount=Decimal("1"))
    assert exc.value.get_codes() == "price_unavailable"


def test_a_pair_unknown_to_the_oracle_is_unavailable():
    # given: ETH on both networks: the oracle has no ETH-ETH
    listing = ListingFactory(market=True, quote_asset=eth_asset("local-b"))
    # then
    assert listing_price(listing) is None


def test_listing_quote_rounds_the_quote_amount_up():
    # given: base ETH, quote TEST (6 places), price 3.333333
    listing = ListingFactory(price=Decimal("3.333333"))
    # when
    quote = listing_quote(listing=listing, amount=Decimal("0.000000000000000001"))
    big = listing_quote(listing=listing, amount=Decimal("1.5"))
    # then
    assert quote.quote_amount == Decimal("0.000001")
    assert quote.price == Decimal("3.333333")
    assert big.quote_amount == Decimal("4.9999995").quantize(
        Decimal("0.000001"), rounding="ROUND_UP"
    )


def test_listing_prices_reads_the_oracle_once_per_pair(prices, django_assert_max_num_queries):
    # given
    listings = [ListingFactory(market=True) for _ in range(5)] + [ListingFactory()]
    for listing in listings:
        listing.refresh_from_db()
    fetched = list(Listing.objects.select_related("base_asset", "quote_asset"))
    # when
    with django_assert_max_num_queries(2):
        found = listing_prices(fetched)
    # then
    assert set(found.values()) == {Decimal("2020"), Decimal("2000")}


def _book_prices(**kwargs) -> list[Decimal | None]:
    return [listing_price(lst) for lst in listing_search(**kwargs)]


def test_ordering_by_price_mixes_fixed_and_market_listings_by_current_price(prices):
    # given: market ones at 1 % (2020), -5 % with floor 1990, 10 % capped at 2015
    ListingFactory(price=Decimal("2010"))
    ListingFactory(market=True, price_margin_pct=Decimal("1"))
    ListingFactory(market=True, price_margin_pct=Decimal("-5"), price_floor=Decimal("1990"))
    ListingFactory(market=True, price_margin_pct=Decimal("10"), price_ceiling=Decimal("2015"))
    ListingFactory(price=Decimal("1995.5"))
    # when
    ascending = _book_prices(pair="ETH-TEST", ordering="price")
    descending = _book_prices(pair="ETH-TEST", ordering="-price")
    # then
    expected = [Decimal(p) for p in ("1990", "1995.5", "2010", "2015", "2020")]
    assert ascending == expected
    assert descending == expected[::-1]


def test_price_range_filters_use_the_current_price(prices):
    # given
    ListingFactory(price=Decimal("2010"))
    ListingFactory(market=True, price_margin_pct=Decimal("1"))  # 2020
    ListingFactory(market=True, price_margin_pct=Decimal("-1"))  # 1980
    # then
    assert _book_prices(price_min=Decimal("2000"), ordering="price") == [
        Decimal("2010"),
        Decimal("2020"),
    ]
    assert _book_prices(price_max=Decimal("2010"), ordering="price") == [
        Decimal("1980"),
        Decimal("2010"),
    ]
    assert _book_prices(price_min=Decimal("2020"), price_max=Decimal("2020")) == [Decimal("2020")]


def test_sql_and_python_prices_agree_to_the_last_place(settings):
    # given: prices with many places; the SQL order and filter must match Python exactly
    publish_prices(settings, {"ETH-USD": "2000.123456789", "TEST-USD": "1.000000001"})
    margins = ["0.0001", "0.0002", "-0.0001", "0", "1.2345"]
    for m in margins:
        ListingFactory(market=True, price_margin_pct=Decimal(m))
    python = sorted(listing_price(lst) for lst in Listing.objects.all())
    # when
    ordered = _book_prices(ordering="price")
    exact = _book_prices(price_min=python[2], price_max=python[2])
    # then
    assert ordered == python
    assert exact == [python[2]]


def test_unavailable_market_listings_sort_last_and_fail_price_filters(prices):
    # given: the oracle has no price for XYZ, so none for ETH-XYZ
    xyz = AssetFactory(network="local-b", symbol="XYZ", decimals=6, address="0x" + "c" * 40)
    ListingFactory(price=Decimal("5"), quote_asset=xyz)
    unavailable = ListingFactory(market=True, quote_asset=xyz)
    # when
    ordered = list(listing_search(ordering="price"))
    reversed_ = list(listing_search(ordering="-price"))
    filtered = list(listing_search(price_min=Decimal("0.000001")))
    # then
    assert ordered[-1] == unavailable
    assert reversed_[-1] == unavailable
    assert unavailable not in filtered


def test_a_halted_pair_drops_its_market_listings_from_price_filters(prices):
    # given
    ListingFactory(market=True)
    fixed = ListingFactory(price=Decimal("2000"))
    pair_halt(pair="ETH-TEST", reason="jump", user=UserFactory())
    # then
    assert list(listing_search(price_min=Decimal("1"))) == [fixed]


def test_token_amounts_round_trip_exactly():
    # given: values with 18 places and 42 integer digits
    big = Decimal("999999999999999999999999999999999999999999.999999999999999999")
    listing = ListingFactory(
        base_asset=eth_asset(),
        quote_asset=token_asset(),
        amount=big,
        remaining=big,
        max_trade=Decimal("0.000000000000000002"),
        min_trade=Decimal("0.000000000000000001"),
    )
    # when
    listing.refresh_from_db()
    # then
    assert listing.amount == big
    assert listing.min_trade == Decimal("0.000000000000000001")
    assert list(Listing.objects.filter(remaining__gte=big)) == [listing]
    assert not Listing.objects.filter(remaining__gt=big).exists()


@pytest.mark.parametrize("ordering", ["price", "-price"])
def test_pages_of_the_price_order_merge_fixed_and_market_listings(prices, ordering):
    # given: fixed and market listings interleaved by price, with equal prices (ties)
    for p in ("1990", "2005", "2030", "2020"):
        ListingFactory(price=Decimal(p))
    for m in ("0.5", "1", "-0.25", "1"):
        ListingFactory(market=True, price_margin_pct=Decimal(m))  # 2010, 2020, 1995, 2020
    everything = list(listing_search(ordering=ordering))
    results = listing_search(ordering=ordering)
    results.PREFETCH = 2  # later pages must re-read deeper heads of both arms
    # when: read page by page
    total = results.count()
    pages = [results[i : i + 3] for i in range(0, 9, 3)]
    # then
    assert total == 8
    assert [lst.pk for page in pages for lst in page] == [lst.pk for lst in everything]
    shown = [listing_price(lst) for lst in everything]
    assert shown == sorted(shown, reverse=ordering == "-price")
    ties = [lst for lst in everything if listing_price(lst) == Decimal("2020")]
    assert [lst.pk for lst in ties] == sorted((lst.pk for lst in ties), reverse=True)  # newest


def test_a_price_range_keeps_the_newest_order(prices):
    # given
    old_market = ListingFactory(market=True, price_margin_pct=Decimal("0.5"))  # 2010
    ListingFactory(price=Decimal("2500"))
    new_fixed = ListingFactory(price=Decimal("2001"))
    # when
    found = list(listing_search(price_min=Decimal("2000"), price_max=Decimal("2100")))
    # then
    assert found == [new_fixed, old_market]


def test_a_pair_search_prices_market_listings_without_a_case_as_python_does(settings):
    # given: one oracle pair with one quote precision (the SQL price needs no CASE), margins
    # that round, a floor and a ceiling
    publish_prices(settings, {"ETH-USD": "2000.1234567", "TEST-USD": "1"})
    listings = [
        ListingFactory(market=True, price_margin_pct=Decimal(margin), price_floor=floor)
        for margin, floor in [("0.0001", None), ("-3.3333", Decimal("1990")), ("2.5", None)]
    ]
    listings.append(
        ListingFactory(market=True, price_margin_pct=Decimal("9"), price_ceiling=Decimal("2010"))
    )
    listings.append(ListingFactory(price=Decimal("2000.500000")))
    python = listing_prices([Listing.objects.get(pk=lst.pk) for lst in listings])
    low = sorted(python.values())[1]
    # when
    ordered = list(listing_search(pair="ETH-TEST", ordering="price"))
    ranged = list(listing_search(pair="ETH-TEST", ordering="-price", price_min=low))
    # then
    assert [lst.pk for lst in ordered] == sorted(python, key=lambda pk: (python[pk], -pk))
    assert {lst.pk for lst in ranged} == {pk for pk, price in python.items() if price >= low}
