"""Cached offer-book and price reads are never stale: every write that changes what they show
makes the next read show it (marketplace.cache, oracle.selectors.cached_over_prices).

Writes commit through ``django_capture_on_commit_callbacks(execute=True)``: the invalidation
runs on commit, as in production."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Reputation
from accounts.tests.factories import UserFactory, WalletFactory
from marketplace import services
from marketplace.errors import ListingError
from marketplace.tests.factories import ListingFactory, eth_asset, token_asset
from marketplace.tests.support import publish_prices
from testing.support import clear_run_cache

pytestmark = pytest.mark.django_db
URL = "/api/v1/listings/"
BOOK = {"pair": "ETH-TEST"}


@pytest.fixture(autouse=True)
def _cache_on(settings):
    settings.READ_CACHE_SECONDS = 300


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def prices(settings, django_capture_on_commit_callbacks):
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})


def _ids(api, params=BOOK) -> list[int]:
    response = api.get(URL, params)
    assert response.status_code == 200
    return [row["id"] for row in response.json()["results"]]


def test_book_read_is_served_from_the_cache_until_a_change(api, prices, django_assert_num_queries):
    # given
    listing = ListingFactory()
    assert _ids(api) == [listing.pk]
    # when / then: the same read again costs no query
    with django_assert_num_queries(0):
        assert _ids(api) == [listing.pk]


def test_listing_created_shows_on_the_next_read(api, prices, django_capture_on_commit_callbacks):
    # given
    old = ListingFactory()
    assert _ids(api) == [old.pk]
    maker = UserFactory()
    address = WalletFactory(user=maker).address
    # when
    with django_capture_on_commit_callbacks(execute=True):
        new = services.listing_create(
            maker=maker,
            base_asset_id=eth_asset().pk,
            quote_asset_id=token_asset().pk,
            amount=Decimal("2"),
            min_trade=Decimal("1"),
            max_trade=Decimal("2"),
            price=Decimal("2001"),
            payout_address=address,
            refund_address=address,
        )
    # then
    assert _ids(api) == [new.pk, old.pk]
    assert api.get(URL, BOOK).json()["count"] == 2


def test_listing_taken_shows_its_remaining_on_the_next_read(
    api, prices, django_capture_on_commit_callbacks
):
    # given
    listing = ListingFactory()
    assert api.get(URL, BOOK).json()["results"][0]["remaining"].startswith("10")
    # when: a swap reserves part of it (swaps call this service)
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("3"))
    # then
    assert api.get(URL, BOOK).json()["results"][0]["remaining"].startswith("7")


def test_listing_cancelled_leaves_the_next_read(api, prices, django_capture_on_commit_callbacks):
    # given
    listing = ListingFactory()
    assert _ids(api) == [listing.pk]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_update(
            listing_id=listing.pk, maker=listing.maker, changes={}, state="cancelled"
        )
    # then
    assert _ids(api) == []
    assert api.get(URL, BOOK).json()["count"] == 0


def test_listing_expired_by_the_job_leaves_the_next_read(
    api, prices, django_capture_on_commit_callbacks
):
    # given
    listing = ListingFactory(expires_at=timezone.now() + timedelta(hours=1))
    assert _ids(api) == [listing.pk]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.listings_expire(now=timezone.now() + timedelta(hours=2))
    # then
    assert _ids(api) == []


def test_listing_past_its_expiry_leaves_the_next_read_before_the_job_runs(api, prices):
    # given: a listing that expires in a moment, read into the cache
    listing = ListingFactory(expires_at=timezone.now() + timedelta(seconds=1))
    assert _ids(api) == [listing.pk]
    # when: its expiry passes and nothing writes
    time.sleep(1.2)
    # then
    assert _ids(api) == []


def test_listing_hidden_leaves_the_next_read(api, prices, django_capture_on_commit_callbacks):
    # given
    listing = ListingFactory()
    assert _ids(api) == [listing.pk]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_hide(listing_id=listing.pk, by=UserFactory(is_staff=True), reason="spam")
    # then
    assert _ids(api) == []


def test_price_published_moves_market_listings_on_the_next_read(
    api, prices, settings, django_capture_on_commit_callbacks
):
    # given: 1 % over 2000
    ListingFactory(market=True)
    assert api.get(URL, BOOK).json()["results"][0]["current_price"].startswith("2020")
    # when
    publish_prices(settings, {"ETH-USD": "3000", "TEST-USD": "1"})
    # then
    assert api.get(URL, BOOK).json()["results"][0]["current_price"].startswith("3030")


def test_maker_reputation_change_shows_on_the_next_read(
    api, prices, django_capture_on_commit_callbacks
):
    # given
    listing = ListingFactory()
    assert api.get(URL, BOOK).json()["results"][0]["maker"]["completed_swaps"] == 0
    # when
    with django_capture_on_commit_callbacks(execute=True):
        Reputation.objects.create(user=listing.maker, completed_swaps=7)
    # then
    assert api.get(URL, BOOK).json()["results"][0]["maker"]["completed_swaps"] == 7


def test_rolled_back_write_keeps_the_cache(api, prices, django_assert_num_queries):
    # given
    listing = ListingFactory()
    _ids(api)
    # when: a refused reservation (more than remains) rolls back
    with pytest.raises(ListingError):
        services.listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal(99))
    # then
    with django_assert_num_queries(0):
        assert _ids(api) == [listing.pk]


def test_prices_api_shows_a_published_price_on_the_next_read(api, prices, settings):
    # given
    before = {p["pair"]: p["price"] for p in api.get("/api/v1/prices/").json()["results"]}
    assert before["ETH-USD"].startswith("2000")
    # when
    publish_prices(settings, {"ETH-USD": "2500", "TEST-USD": "1"})
    # then
    after = {p["pair"]: p["price"] for p in api.get("/api/v1/prices/").json()["results"]}
    assert after["ETH-USD"].startswith("2500")


def test_prices_api_shows_a_halt_on_the_next_read(api, prices, django_capture_on_commit_callbacks):
    # given
    from oracle import services as oracle_services

    api.get("/api/v1/prices/")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        oracle_services.pair_halt(pair="ETH-USD", reason="test", user=UserFactory(is_staff=True))
    # then
    rows = {p["pair"]: p for p in api.get("/api/v1/prices/").json()["results"]}
    assert rows["ETH-USD"]["status"] == "halted"


def test_market_page_drops_a_cancelled_listing_on_the_next_read(
    client, prices, django_capture_on_commit_callbacks
):
    # given
    listing = ListingFactory(terms="unique-terms-xyzzy")
    url = f"/market/{eth_asset().label}/{token_asset().label}/"
    assert f"/listings/{listing.pk}/" in client.get(url).content.decode()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_update(
            listing_id=listing.pk, maker=listing.maker, changes={}, state="cancelled"
        )
    # then
    assert f"/listings/{listing.pk}/" not in client.get(url).content.decode()


def _market_url() -> str:
    return f"/market/{eth_asset().label}/{token_asset().label}/"


def _csrf(body: bytes) -> str:
    import re

    found = re.search(rb'"X-CSRFToken": "([A-Za-z0-9]{64})"', body)
    assert found is not None
    return found[1].decode()


def test_market_page_is_served_from_the_cache_with_each_visitors_own_csrf_token(
    prices, django_assert_num_queries
):
    from django.middleware.csrf import _unmask_cipher_token
    from django.test import Client

    listing = ListingFactory()
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    rendered = first.get(_market_url())
    assert f"/listings/{listing.pk}/" in rendered.content.decode()
    # when: another visitor asks for the same page
    url = _market_url()
    with django_assert_num_queries(0):
        cached = second.get(url)
    # then: the same page, with a token of their own that their CSRF cookie accepts
    assert cached.status_code == 200
    assert cached["Content-Type"] == rendered["Content-Type"]
    token = _csrf(cached.content)
    assert token != _csrf(rendered.content)
    assert cached.content.replace(token.encode(), b"") == rendered.content.replace(
        _csrf(rendered.content).encode(), b""
    )
    cookie = second.cookies["csrftoken"].value
    assert _unmask_cipher_token(token) == cookie
    # and: a form they post with it passes the CSRF check (the language switch)
    switched = second.post("/i18n/setlang/", {"language": "en", "csrfmiddlewaretoken": token})
    assert switched.status_code == 302


def test_market_page_of_a_signed_in_visitor_is_their_own(prices, django_assert_num_queries):
    from django.test import Client

    ListingFactory()
    Client().get(_market_url())  # cached for anonymous visitors
    user = UserFactory(username="page-viewer")
    signed_in = Client()
    signed_in.force_login(user)
    # when
    page = signed_in.get(_market_url()).content.decode()
    # then: rendered for them, with their menu
    assert user.public_name in page
    assert "Sign out" in page


def test_market_page_with_unknown_parameters_or_another_language_is_not_the_cached_one(
    prices, django_assert_num_queries, settings
):
    from django.test import Client

    ListingFactory()
    visitor = Client()
    url = _market_url()
    visitor.get(url)
    with django_assert_num_queries(0):
        visitor.get(url)
    # then: an unknown parameter renders the page (it is repeated in the language form)
    page = visitor.get(_market_url() + "?utm=zzz-unknown").content.decode()
    assert "utm=zzz-unknown" in page
    # and: each language has its own page
    bengali = Client(HTTP_ACCEPT_LANGUAGE="bn").get(_market_url()).content.decode()
    assert 'lang="bn"' in bengali.split(">", 2)[1]


def test_market_page_shows_a_new_listing_on_the_next_read(
    prices, django_capture_on_commit_callbacks
):
    from django.test import Client

    old = ListingFactory()
    assert f"/listings/{old.pk}/" in Client().get(_market_url()).content.decode()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        new = ListingFactory(price=Decimal("1999"))
        from marketplace.cache import book_changed

        book_changed()
    # then
    assert f"/listings/{new.pk}/" in Client().get(_market_url()).content.decode()


def test_listings_url_with_unknown_parameters_is_answered_but_not_cached(api, prices):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    listing = ListingFactory()
    params = {**BOOK, "utm_source": "zzz"}
    assert _ids(api, params) == [listing.pk]
    # when: asked again
    with CaptureQueriesContext(connection) as queries:
        assert _ids(api, params) == [listing.pk]
    # then: searched again (a cached page per made-up parameter would only fill the cache)
    assert len(queries.captured_queries) > 0
    # and: a bad value of a known one is still a 400 with its code
    response = api.get(URL, {**BOOK, "ordering": "cheapest"})
    assert response.status_code == 400
    assert response.json()["fields"]["ordering"][0]["code"] == "invalid_choice"


def _redis_commands(monkeypatch) -> list[str]:
    """The commands this process sends Redis from now on, each still sent (a spy)."""
    import redis

    sent: list[str] = []
    send = redis.Redis.execute_command

    def spy(self, *args, **options):
        sent.append(str(args[0]))
        return send(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    return sent


needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="the throttle looks the entry up in Redis scripts"
)


@needs_redis
@pytest.mark.parametrize("url", [URL + "?pair=ETH-TEST", "/api/v1/prices/"])
def test_a_cached_read_costs_one_redis_round_trip_with_the_throttle(api, prices, monkeypatch, url):
    # given: the answer in the cache
    ListingFactory()
    first = api.get(url)
    assert first.status_code == 200
    # when
    sent = _redis_commands(monkeypatch)
    again = api.get(url)
    # then: the throttle's script counted the request and found the entry, in one command
    assert again.content == first.content
    assert sent == ["EVALSHA"]


@needs_redis
def test_a_change_between_two_cached_reads_shows_through_the_throttles_lookup(
    api, prices, monkeypatch, django_capture_on_commit_callbacks
):
    # given: the book in the cache, read through the throttle's lookup
    listing = ListingFactory()
    assert _ids(api) == [listing.pk]
    sent = _redis_commands(monkeypatch)
    assert _ids(api) == [listing.pk]
    assert sent == ["EVALSHA"]
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_update(
            listing_id=listing.pk, maker=listing.maker, changes={}, state="cancelled"
        )
    # then
    assert _ids(api) == []


@needs_redis
def test_a_cached_read_over_the_limit_is_refused(api, prices, settings):
    # given: a limit of 3 requests a minute, the answer in the cache
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "3/minute"}
    clear_run_cache()
    # when
    statuses = [api.get(URL, BOOK).status_code for _ in range(4)]
    # then: the third was a hit, the fourth is refused all the same
    assert statuses == [200, 200, 200, 429]
