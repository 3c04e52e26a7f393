"""Server-rendered marketplace pages, through the Django test client."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory, WalletFactory
from marketplace.models import Listing
from marketplace.tests.factories import ListingFactory, eth_asset, token_asset
from marketplace.tests.support import publish_prices
from oracle.services import pair_halt

pytestmark = pytest.mark.django_db


def _maker(client):
    user = UserFactory()
    wallet = WalletFactory(user=user)
    client.force_login(user)
    return user, wallet.address


def test_the_nav_links_to_the_market(client):
    # when
    page = client.get("/")
    # then
    assert 'href="/market/"' in page.content.decode()


def test_pair_list_shows_pairs_with_open_listings_and_the_oracle_price(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    ListingFactory()
    ListingFactory()
    ListingFactory(state=Listing.State.PAUSED, base_asset=token_asset(), quote_asset=eth_asset())
    # when
    page = client.get("/market/")
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-pair="ETH-TEST"' in html
    # a market is both assets with their networks
    assert 'href="/market/ETH@local-a/TEST@local-b/"' in html
    assert "local-a" in html and "local-b" in html
    assert "TEST-ETH" not in html  # only paused listings there
    assert "2000" in html


def test_offer_book_shows_listings_with_prices_and_the_oracle_price(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    fixed = ListingFactory(price=Decimal("1999.5"))
    market = ListingFactory(market=True, price_margin_pct=Decimal("2"))
    # when
    page = client.get("/market/eth-test/", {"ordering": "price"})
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "Market price now" in html
    assert html.index(f'data-listing="{fixed.pk}"') < html.index(f'data-listing="{market.pk}"')
    # pages show numbers for people (grouped, sensible places), the exact value on hover
    assert '<data class="num" value="1999.5" title="1999.5">1,999.5</data>' in html
    assert re.search(r'<data class="num" value="2040" title="2040">2,040</data>', html), (
        "market price 2000 + 2 %"
    )
    assert '<data class="num" value="10" title="10">10</data>' in html


def test_offer_book_shows_halted_market_listings_as_unavailable(client, settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    ListingFactory(market=True)
    pair_halt(pair="ETH-TEST", reason="jump", user=UserFactory())
    # when
    html = client.get("/market/ETH-TEST/").content.decode()
    # then
    assert "data-unavailable" in html
    assert "Market price unavailable now" in html


def test_offer_book_of_a_malformed_pair_is_404(client):
    # then
    assert client.get("/market/ETH/").status_code == 404
    assert client.get("/market/ETH@nowhere/TEST@local-b/").status_code == 404


def test_a_market_of_one_coin_on_two_networks_has_a_book(client, settings):
    # given: ETH on local-a offered for ETH on local-b, and TEST on both networks
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    across = ListingFactory(base_asset=eth_asset("local-a"), quote_asset=eth_asset("local-b"))
    tests = ListingFactory(base_asset=token_asset("local-a"), quote_asset=token_asset("local-b"))
    # when
    book = client.get("/market/ETH@local-a/ETH@local-b/")
    by_symbols = client.get("/market/ETH-ETH/")
    # then: no 404, no ambiguity; the oracle prices ETH-ETH at exactly 1
    html = book.content.decode()
    assert book.status_code == 200 and by_symbols.status_code == 200
    assert f'data-listing="{across.pk}"' in html and f'data-listing="{tests.pk}"' not in html
    assert "Market price now" in html
    assert client.get("/market/TEST@local-a/TEST@local-b/").status_code == 200


def test_offer_book_ignores_bad_filters_instead_of_failing(client):
    # given
    ListingFactory()
    # when
    page = client.get("/market/ETH-TEST/", {"price_min": "lots", "ordering": "bogus"})
    # then
    assert page.status_code == 200


def test_listing_detail_and_hidden_listing_visibility(client):
    # given
    listing = ListingFactory(terms="Bank holidays excluded")
    hidden = ListingFactory(hidden_at=timezone.now(), hidden_reason="Misleading")
    # when
    page = client.get(f"/listings/{listing.pk}/")
    others_hidden = client.get(f"/listings/{hidden.pk}/")
    client.force_login(hidden.maker)
    maker_hidden = client.get(f"/listings/{hidden.pk}/")
    # then
    assert page.status_code == 200
    assert "Bank holidays excluded" in page.content.decode()
    assert others_hidden.status_code == 404
    assert "Misleading" in maker_hidden.content.decode()


def test_create_page_needs_sign_in(client):
    # when
    page = client.get("/listings/new/")
    # then
    assert page.status_code == 302
    assert "/accounts/login/" in page["Location"]


def test_create_page_makes_a_listing(client):
    # given
    user, address = _maker(client)
    eth, token = eth_asset(), token_asset()
    form = client.get("/listings/new/").content.decode()
    assert 'for="id_amount"' in form  # labelled inputs
    # when
    response = client.post(
        "/listings/new/",
        {
            "base_asset": eth.pk,
            "quote_asset": token.pk,
            "amount": "3.5",
            "min_trade": "0.5",
            "max_trade": "1",
            "price_kind": "fixed",
            "price": "2000",
            "price_margin_pct": "5",  # ignored: the fixed price was chosen
            "payout_address": address,
            "refund_address": address,
            "terms": "Hello",
        },
    )
    # then
    listing = Listing.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/listings/{listing.pk}/"
    assert (listing.maker, listing.amount, listing.price) == (user, Decimal("3.5"), 2000)
    assert listing.price_margin_pct is None


def test_create_page_shows_service_errors_on_their_fields(client):
    # given
    _user, address = _maker(client)
    eth, token = eth_asset(), token_asset()
    # when
    response = client.post(
        "/listings/new/",
        {
            "base_asset": eth.pk,
            "quote_asset": token.pk,
            "amount": "1",
            "min_trade": "2",
            "max_trade": "1",
            "price_kind": "fixed",
            "price": "2000.1234567",
            "payout_address": address,
            "refund_address": address,
        },
    )
    # then
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "minimum per trade is above the maximum" in errors["min_trade"][0]
    assert "6 decimal places" in errors["price"][0]
    assert not Listing.objects.exists()


def test_edit_page_updates_the_makers_listing_only(client):
    # given
    listing = ListingFactory()
    other = ListingFactory()
    client.force_login(listing.maker)
    form = client.get(f"/listings/{listing.pk}/edit/")
    data = {k: v for k, v in form.context["form"].initial.items() if v is not None}
    data.update(price_kind="fixed", price="2222", expires_at="")
    # when
    response = client.post(f"/listings/{listing.pk}/edit/", data)
    not_mine = client.get(f"/listings/{other.pk}/edit/")
    # then
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.price == Decimal("2222")
    assert not_mine.status_code == 404


def test_state_buttons_pause_resume_and_delete(client):
    # given
    listing = ListingFactory()
    client.force_login(listing.maker)
    # when
    client.post(f"/listings/{listing.pk}/state/", {"state": "paused"})
    listing.refresh_from_db()
    paused = listing.state
    client.post(f"/listings/{listing.pk}/state/", {"state": "sold_out"})
    listing.refresh_from_db()
    still_paused = listing.state
    client.post(f"/listings/{listing.pk}/delete/")
    # then
    listing.refresh_from_db()
    assert (paused, still_paused) == ("paused", "paused")
    assert listing.deleted_at is not None


def test_my_listings_page(client):
    # given
    user, _address = _maker(client)
    draft = ListingFactory(maker=user, state=Listing.State.DRAFT)
    someone_elses = ListingFactory()
    # when
    html = client.get("/listings/mine/").content.decode()
    # then
    assert f'data-listing="{draft.pk}"' in html
    assert f'data-listing="{someone_elses.pk}"' not in html
    assert "Draft" in html


def test_pages_render_in_bengali(client):
    # given
    listing = ListingFactory()
    client.cookies["django_language"] = "bn"
    # when
    page = client.get(f"/listings/{listing.pk}/", HTTP_ACCEPT_LANGUAGE="bn")
    # then
    assert page.status_code == 200
    assert 'lang="bn"' in page.content.decode()
