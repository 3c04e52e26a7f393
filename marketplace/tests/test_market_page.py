"""The two-sided market page, its depth, the take panel and the public maker page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Reputation
from accounts.tests.factories import UserFactory
from marketplace import selectors
from marketplace.tests.factories import ListingFactory, eth_asset, token_asset
from marketplace.tests.support import publish_prices

pytestmark = pytest.mark.django_db

MARKET = "/market/ETH@local-a/TEST@local-b/"


def _reverse(price: str, amount: str = "3000", **kwargs) -> object:
    """A listing of the reverse market: sells TEST on local-b for ETH on local-a."""
    return ListingFactory(
        base_asset=token_asset("local-b"),
        quote_asset=eth_asset("local-a"),
        price=Decimal(price),
        amount=Decimal(amount),
        min_trade=Decimal("1"),
        max_trade=Decimal(amount),
        **kwargs,
    )


def test_market_page_shows_both_sides_with_the_reverse_market_as_buy_offers(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    ask = ListingFactory(price=Decimal("2010"))
    bid = _reverse("0.0005")  # pays 2000 TEST per ETH
    elsewhere = ListingFactory(base_asset=eth_asset("local-b"))  # another market
    # when
    page = client.get(MARKET)
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-listing="{ask.pk}" data-side="ask"' in html
    assert f'data-listing="{bid.pk}" data-side="bid"' in html
    assert f'data-listing="{elsewhere.pk}"' not in html
    # the bid in the market's terms: 1 / 0.0005 = 2000 TEST per ETH, 3000 TEST buy 1.5 ETH
    assert '<data class="num" value="2000" title="2000">2,000</data>' in html
    assert '<data class="num" value="1.5" title="1.5">1.5</data> ETH' in html
    assert 'href="/market/TEST@local-b/ETH@local-a/"' in html  # the reverse market


def test_market_side_orders_bids_by_what_they_pay_and_inverts_price_filters():
    # given
    cheap = _reverse("0.0005")  # pays 2000 per ETH
    dear = _reverse("0.0004")  # pays 2500 per ETH
    where = {"base_asset_id": token_asset().pk, "quote_asset_id": eth_asset().pk}
    # when
    best_first = selectors.market_side(side=selectors.BID, where=where, limit=10)
    above = selectors.market_side(
        side=selectors.BID, where=where, limit=10, price_min=Decimal("2100")
    )
    # then
    assert [e.listing.pk for e in best_first.entries] == [dear.pk, cheap.pk]
    assert [e.price for e in best_first.entries] == [Decimal(2500), Decimal(2000)]
    assert [e.listing.pk for e in above.entries] == [dear.pk]


def test_market_depth_sums_each_side_from_its_best_price():
    # given
    ListingFactory(price=Decimal("2000"), amount=Decimal("1"))
    ListingFactory(price=Decimal("2000"), amount=Decimal("2"))
    ListingFactory(price=Decimal("2100"), amount=Decimal("0.5"))
    where = {"base_asset_id": eth_asset().pk, "quote_asset_id": token_asset().pk}
    side = selectors.market_side(side=selectors.ASK, where=where, limit=10)
    # when
    levels = selectors.market_depth(side.entries)
    # then
    assert [(lv.price, lv.amount, lv.total) for lv in levels] == [
        (Decimal(2000), Decimal(3), Decimal(3)),
        (Decimal(2100), Decimal("0.5"), Decimal("3.5")),
    ]


def test_market_page_filters_and_the_chosen_offer(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    cheap = ListingFactory(price=Decimal("1990"))
    dear = ListingFactory(price=Decimal("2050"))
    # when
    default = client.get(MARKET).content.decode()
    chosen = client.get(MARKET, {"take": dear.pk}).content.decode()
    filtered = client.get(MARKET, {"price_min": "2000"}).content.decode()
    foreign = ListingFactory(base_asset=eth_asset("local-b"))
    not_here = client.get(MARKET, {"take": foreign.pk}).content.decode()
    # then: the best offer is in the take panel unless another is chosen
    assert f'<tr data-listing="{cheap.pk}" data-side="ask" aria-current="true">' in default
    assert f'<tr data-listing="{dear.pk}" data-side="ask" aria-current="true">' in chosen
    assert (
        f'data-listing="{cheap.pk}"'
        not in filtered.split('id="depth-heading"')[1].split('class="card trade-take')[0]
    )
    assert f'<tr data-listing="{cheap.pk}" data-side="ask" aria-current="true">' in not_here


def test_market_page_shows_each_makers_public_record_with_a_link(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    maker = UserFactory(display_name="Alice", kyc_level="verified")
    Reputation.objects.create(
        user=maker, completed_swaps=41, failed_swaps=2, volume_usd=Decimal("1234.5")
    )
    ListingFactory(maker=maker)
    # when
    html = client.get(MARKET).content.decode()
    # then
    assert f'href="/u/{maker.pk}/"' in html
    assert "41 done · 2 failed" in html and "1,234.5 USD" in html
    assert 'data-kyc="verified">fully verified<' in html
    assert "local-a → local-b" in html


def test_market_page_queries_do_not_grow_with_offers(
    client, settings, django_assert_max_num_queries
):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    for i in range(12):
        maker = UserFactory()
        Reputation.objects.create(user=maker, completed_swaps=i)
        ListingFactory(maker=maker, price=Decimal(2000 + i))
        _reverse(f"0.000{4 + i % 5}")
    # when / then
    with django_assert_max_num_queries(20):
        assert client.get(MARKET).status_code == 200


def test_the_chart_range_answers_the_chart_alone(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    eth_asset(), token_asset()
    # when
    part = client.get(MARKET, {"range": "7d", "part": "chart"}).content.decode()
    # then
    assert part.lstrip().startswith('<div id="price-chart"')
    assert 'data-range="7d"' in part and 'aria-current="true" data-range="7d"' in part
    assert "<html" not in part


def test_maker_page_shows_the_public_record_and_open_offers_only(client):
    # given
    maker = UserFactory(display_name="Rahima", email="rahima@example.com", kyc_level="basic")
    Reputation.objects.create(user=maker, completed_swaps=7, failed_swaps=1)
    open_offer = ListingFactory(maker=maker)
    paused = ListingFactory(maker=maker, state="paused")
    # when
    page = client.get(f"/u/{maker.pk}/")
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert '<dd data-field="completed_swaps">7</dd>' in html
    assert '<dd data-field="failed_swaps">1</dd>' in html
    assert "ID checked" in html
    assert f'data-listing="{open_offer.pk}"' in html and f'data-listing="{paused.pk}"' not in html
    assert "rahima@example.com" not in html


def test_maker_page_of_a_deleted_or_unknown_user_is_404(client):
    # given
    gone = UserFactory(deleted_at=timezone.now())
    # then
    assert client.get(f"/u/{gone.pk}/").status_code == 404
    assert client.get("/u/999999/").status_code == 404


def test_market_page_in_bengali_writes_bengali_digits(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    ListingFactory(price=Decimal("1999.5"))
    # when
    html = client.get(MARKET, HTTP_ACCEPT_LANGUAGE="bn").content.decode()
    # then
    assert '<data class="num" value="1999.5" title="1999.5">১,৯৯৯.৫</data>' in html
    assert "বিক্রির অফার" in html


def test_the_take_panel_prefers_someone_elses_offer(client, settings):
    # given: the viewer's own offer is the cheapest
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    mine = ListingFactory(price=Decimal("1900"))
    theirs = ListingFactory(price=Decimal("2000"))
    client.force_login(mine.maker)
    # when
    html = client.get(MARKET).content.decode()
    # then
    assert f'<tr data-listing="{theirs.pk}" data-side="ask" aria-current="true">' in html
