"""The listings API: public field names, decimal strings, filters, permissions, errors."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Reputation, User
from accounts.tests.factories import UserFactory, WalletFactory
from marketplace import services
from marketplace.models import Listing
from marketplace.tests.factories import ListingFactory, eth_asset, token_asset
from marketplace.tests.support import publish_prices

pytestmark = pytest.mark.django_db
URL = "/api/v1/listings/"
PUBLIC_FIELDS = {
    "id",
    "base_asset",
    "quote_asset",
    "amount",
    "remaining",
    "min_trade",
    "max_trade",
    "price",
    "price_margin_pct",
    "payout_address",
    "refund_address",
    "state",
    "maker",
    "current_price",
    "available",
    "pair",
    "terms",
    "expires_at",
    "created_at",
}


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def prices(settings):
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})


def _signed_in(api: APIClient, user: User | None = None) -> tuple[User, str]:
    user = user or UserFactory()
    wallet = WalletFactory(user=user)
    api.force_authenticate(user)
    return user, wallet.address


def _body(eth, token, address, **overrides) -> dict:
    body = {
        "base_asset": eth.pk,
        "quote_asset": token.pk,
        "amount": "10",
        "min_trade": "0.5",
        "max_trade": "5",
        "price": "2000.25",
        "payout_address": address,
        "refund_address": address,
        "terms": "Evenings only.",
    }
    body.update(overrides)
    return body


def _post(api, body):
    return api.post(URL, data=json.dumps(body), content_type="application/json")


def test_create_answers_201_with_the_public_fields_as_decimal_strings(api):
    # given
    _user, address = _signed_in(api)
    # when
    response = _post(api, _body(eth_asset(), token_asset(), address))
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) >= PUBLIC_FIELDS
    assert body["amount"] == "10.000000000000000000"
    assert body["remaining"] == "10.000000000000000000"
    assert body["min_trade"] == "0.500000000000000000"
    assert body["price"] == "2000.250000"
    assert body["current_price"] == "2000.250000"
    assert body["price_margin_pct"] is None
    assert body["available"] is True
    assert body["state"] == "active"
    assert body["pair"] == "ETH-TEST"
    assert body["base_asset"] == eth_asset().pk


def test_json_numbers_are_read_exactly_never_as_floats(api):
    # given: a JSON number that a float cannot hold (0.1 + 18 places)
    _user, address = _signed_in(api)
    raw = json.dumps(_body(eth_asset(), token_asset(), address, min_trade="0.1", max_trade="X"))
    raw = raw.replace('"X"', "0.100000000000000001")
    # when
    response = api.post(URL, data=raw, content_type="application/json")
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["max_trade"] == "0.100000000000000001"
    assert Listing.objects.get().max_trade == Decimal("0.100000000000000001")


def test_no_exponent_notation_in_output(api):
    # given: 1E-18 and 1E+3 style values
    listing = ListingFactory(
        amount=Decimal("1000"), min_trade=Decimal("1E-18"), max_trade=Decimal("1E+3")
    )
    # when
    body = api.get(f"{URL}{listing.pk}/").json()
    # then
    assert body["min_trade"] == "0.000000000000000001"
    assert body["max_trade"] == "1000.000000000000000000"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"amount": "1.0000000000000000001"}, "amount", "too_many_decimals"),
        ({"amount": "abc"}, "amount", "invalid_decimal"),
        ({"amount": "NaN"}, "amount", "invalid_decimal"),
        ({"amount": "-1"}, "amount", "amount_not_positive"),
        ({"min_trade": "6"}, "min_trade", "min_above_max"),
        ({"base_asset": 999999}, "base_asset", "unknown_asset"),
        ({"price": "2000.1234567"}, "price", "too_many_decimals"),
        ({"payout_address": "0x" + "ab" * 20}, "payout_address", "address_not_linked"),
        ({"price": None}, "price", "price_required"),
    ],
)
def test_create_refuses_bad_input_with_a_field_error_never_a_500(api, overrides, field, code):
    # given
    _user, address = _signed_in(api)
    # when
    response = _post(api, _body(eth_asset(), token_asset(), address, **overrides))
    # then
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == code
    assert body["fields"][field][0]["code"] == code
    assert not Listing.objects.exists()


def test_create_refuses_the_same_asset(api):
    # given
    _user, address = _signed_in(api)
    eth = eth_asset()
    # when
    response = _post(api, _body(eth, eth, address))
    # then
    assert response.status_code == 400
    assert response.json()["fields"]["quote_asset"][0]["code"] == "same_asset"


def test_create_refuses_malformed_json_and_anonymous_callers(api):
    # when
    anonymous = _post(api, {"amount": "1"})
    _signed_in(api)
    malformed = api.post(URL, data="{nope", content_type="application/json")
    nan = api.post(URL, data='{"amount": NaN}', content_type="application/json")
    # then
    assert anonymous.status_code in (401, 403)
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "parse_error"
    assert nan.status_code == 400


def test_create_a_draft_and_a_market_listing(api, prices):
    # given
    _user, address = _signed_in(api)
    eth, token = eth_asset(), token_asset()
    market = _body(eth, token, address, price=None, price_margin_pct="1.5", price_floor="1900")
    # when
    draft = _post(api, _body(eth, token, address, state="draft"))
    created = _post(api, market)
    # then
    assert draft.json()["state"] == "draft"
    body = created.json()
    assert body["price"] is None
    assert body["price_margin_pct"] == "1.5000"
    assert body["price_floor"] == "1900.000000"
    assert body["current_price"] == "2030.000000"
    assert body["available"] is True


def test_a_halted_pair_shows_market_listings_as_unavailable(api, prices):
    # given
    listing = ListingFactory(market=True)
    from oracle.services import pair_halt

    pair_halt(pair="ETH-TEST", reason="jump", user=UserFactory())
    # when
    body = api.get(f"{URL}{listing.pk}/").json()
    # then
    assert body["available"] is False
    assert body["current_price"] is None


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_list_shows_only_visible_active_listings(api):
    # given
    visible = ListingFactory()
    ListingFactory(state=Listing.State.PAUSED)
    ListingFactory(state=Listing.State.DRAFT)
    ListingFactory(hidden_at=timezone.now(), hidden_reason="spam")
    ListingFactory(deleted_at=timezone.now())
    ListingFactory(expires_at=timezone.now() - timedelta(seconds=1))
    # then
    assert _ids(api.get(URL)) == [visible.pk]


def test_list_filters_by_pair_assets_and_amount(api):
    # given
    eth_a, eth_b, token = eth_asset(), eth_asset("local-b"), token_asset()
    eth_test = ListingFactory(base_asset=eth_a, quote_asset=token)
    eth_test_b = ListingFactory(base_asset=eth_b, quote_asset=token)
    test_eth = ListingFactory(base_asset=token, quote_asset=eth_a, price=Decimal("0.0005"))
    small = ListingFactory(amount=Decimal("2"), max_trade=Decimal("2"))
    # then
    assert set(_ids(api.get(URL, {"pair": "eth-test"}))) == {eth_test.pk, eth_test_b.pk, small.pk}
    assert _ids(api.get(URL, {"pair": "TEST-ETH"})) == [test_eth.pk]
    assert set(_ids(api.get(URL, {"base_asset": eth_b.pk}))) == {eth_test_b.pk}
    assert _ids(api.get(URL, {"quote_asset": eth_a.pk})) == [test_eth.pk]
    assert small.pk not in _ids(api.get(URL, {"min_amount": "3"}))
    assert small.pk in _ids(api.get(URL, {"min_amount": "2"}))


def test_list_filters_by_maker_reputation_and_kyc(api):
    # given
    veteran = UserFactory(kyc_level=User.KycLevel.VERIFIED)
    Reputation.objects.create(user=veteran, completed_swaps=12)
    basic = UserFactory(kyc_level=User.KycLevel.BASIC)
    Reputation.objects.create(user=basic, completed_swaps=3)
    newcomer = UserFactory()  # no reputation row: counts as 0
    by_veteran = ListingFactory(maker=veteran)
    by_basic = ListingFactory(maker=basic)
    by_newcomer = ListingFactory(maker=newcomer)
    # then
    assert set(_ids(api.get(URL, {"maker_min_completed": 3}))) == {by_veteran.pk, by_basic.pk}
    assert set(_ids(api.get(URL, {"maker_min_completed": 0}))) == {
        by_veteran.pk,
        by_basic.pk,
        by_newcomer.pk,
    }
    assert set(_ids(api.get(URL, {"maker_kyc": "basic"}))) == {by_veteran.pk, by_basic.pk}
    assert _ids(api.get(URL, {"maker_kyc": "verified"})) == [by_veteran.pk]
    assert _ids(api.get(URL, {"ordering": "reputation"})) == [
        by_veteran.pk,
        by_basic.pk,
        by_newcomer.pk,
    ]


def test_list_text_search_in_terms(api):
    # given
    bank = ListingFactory(terms="Payment confirmed within minutes, bank holidays excluded")
    ListingFactory(terms="Slow but steady")
    # when
    found = _ids(api.get(URL, {"q": "payment"}))
    # then
    assert found == [bank.pk]


def test_list_orders_by_price_and_newest(api):
    # given
    cheap = ListingFactory(price=Decimal("1000"))
    dear = ListingFactory(price=Decimal("3000"))
    middle = ListingFactory(price=Decimal("2000"))
    # then
    assert _ids(api.get(URL, {"ordering": "price"})) == [cheap.pk, middle.pk, dear.pk]
    assert _ids(api.get(URL, {"ordering": "-price"})) == [dear.pk, middle.pk, cheap.pk]
    assert _ids(api.get(URL)) == [middle.pk, dear.pk, cheap.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"pair": "ZZZ-YYY"},
        {"pair": "ZZZ-YYY", "ordering": "price"},
        {"pair": "ZZZ-YYY", "ordering": "-price", "price_max": "5"},
        {"pair": "ZZZ-YYY", "q": "bank transfer"},
    ],
)
def test_a_pair_of_unknown_assets_is_an_empty_book_not_an_error(api, prices, params):
    # given: listings of other assets
    ListingFactory(price=Decimal("10"))
    # when
    response = api.get(URL, params)
    # then
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pair": "ETH"}, "pair"),
        ({"pair": "ETH-ETH"}, "pair"),
        ({"price_min": "cheap"}, "price_min"),
        ({"ordering": "cheapest"}, "ordering"),
        ({"maker_kyc": "gold"}, "maker_kyc"),
        ({"maker_min_completed": "-1"}, "maker_min_completed"),
        ({"base_asset": "x"}, "base_asset"),
    ],
)
def test_list_refuses_bad_filters_with_a_field_error(api, params, field):
    # when
    response = api.get(URL, params)
    # then
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_list_paginates(api):
    # given
    for _ in range(5):
        ListingFactory()
    # when
    first = api.get(URL, {"page_size": 2}).json()
    last = api.get(URL, {"page_size": 2, "page": 3}).json()
    # then
    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["next"]
    assert len(last["results"]) == 1
    assert last["next"] is None


def test_list_costs_the_same_few_queries_for_1_or_30_listings(
    api, prices, django_assert_max_num_queries
):
    # given: makers with and without reputation, fixed and market listings
    ListingFactory(market=True)
    api.get(URL, {"ordering": "price"})  # warm anything cached once per process
    with django_assert_max_num_queries(20) as one:
        api.get(URL, {"ordering": "price", "page_size": 50})
    for i in range(30):
        maker = UserFactory()
        if i % 2:
            Reputation.objects.create(user=maker, completed_swaps=i)
        ListingFactory(maker=maker, market=bool(i % 3))
    # when
    with django_assert_max_num_queries(20) as many:
        response = api.get(URL, {"ordering": "price", "page_size": 50})
    # then
    assert len(response.json()["results"]) == 31
    assert len(many.captured_queries) == len(one.captured_queries)


def test_mine_lists_all_my_listings_in_any_state(api):
    # given
    user, _address = _signed_in(api)
    mine = [ListingFactory(maker=user, state=s) for s in ("draft", "paused", "cancelled")]
    ListingFactory()
    gone = ListingFactory(maker=user)
    services.listing_delete(listing_id=gone.pk, maker=user)
    # when
    found = _ids(api.get(URL, {"mine": "true"}))
    # then
    assert sorted(found) == sorted(listing.pk for listing in mine)


def test_mine_needs_a_signed_in_user(api):
    # when
    response = api.get(URL, {"mine": "true"})
    # then
    assert response.status_code in (401, 403)


def test_detail_hides_hidden_and_deleted_listings_from_others_but_not_the_maker(api):
    # given
    hidden = ListingFactory(hidden_at=timezone.now(), hidden_reason="Misleading terms")
    deleted = ListingFactory(deleted_at=timezone.now())
    paused = ListingFactory(state=Listing.State.PAUSED)
    # when
    others_hidden = api.get(f"{URL}{hidden.pk}/")
    others_deleted = api.get(f"{URL}{deleted.pk}/")
    others_paused = api.get(f"{URL}{paused.pk}/")
    api.force_authenticate(hidden.maker)
    maker_hidden = api.get(f"{URL}{hidden.pk}/")
    # then
    assert others_hidden.status_code == 404
    assert others_deleted.status_code == 404
    assert others_paused.status_code == 404  # not active: its maker's and staff's only
    assert maker_hidden.status_code == 200
    assert maker_hidden.json()["hidden_reason"] == "Misleading terms"


def test_patch_by_the_maker_updates_and_pauses(api):
    # given
    listing = ListingFactory()
    api.force_authenticate(listing.maker)
    # when
    response = api.patch(
        f"{URL}{listing.pk}/",
        data=json.dumps({"price": "2100.5", "max_trade": "2", "state": "paused"}),
        content_type="application/json",
    )
    # then
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["price"], body["max_trade"], body["state"]) == (
        "2100.500000",
        "2.000000000000000000",
        "paused",
    )


def test_patch_and_delete_by_another_user_are_403_and_on_hidden_404(api):
    # given
    listing = ListingFactory()
    hidden = ListingFactory(hidden_at=timezone.now(), hidden_reason="x")
    _signed_in(api)
    # when
    patch = api.patch(f"{URL}{listing.pk}/", data={"terms": "mine now"}, format="json")
    delete = api.delete(f"{URL}{listing.pk}/")
    hidden_patch = api.patch(f"{URL}{hidden.pk}/", data={"terms": "x"}, format="json")
    # then
    assert (patch.status_code, patch.json()["code"]) == (403, "not_listing_maker")
    assert delete.status_code == 403
    assert hidden_patch.status_code == 404
    listing.refresh_from_db()
    assert listing.terms == "" and listing.deleted_at is None


def test_patch_refuses_an_illegal_state_and_the_pair(api):
    # given
    listing = ListingFactory(state=Listing.State.CANCELLED)
    other = ListingFactory()
    api.force_authenticate(listing.maker)
    # when
    closed = api.patch(f"{URL}{listing.pk}/", data={"state": "active"}, format="json")
    api.force_authenticate(other.maker)
    sold_out = api.patch(f"{URL}{other.pk}/", data={"state": "sold_out"}, format="json")
    pair = api.patch(f"{URL}{other.pk}/", data={"base_asset": 5}, format="json")
    # then
    assert (closed.status_code, closed.json()["code"]) == (409, "listing_closed")
    assert sold_out.status_code == 400
    assert (pair.status_code, pair.json()["code"]) == (400, "immutable_field")


def test_delete_by_the_maker_is_soft(api):
    # given
    listing = ListingFactory()
    api.force_authenticate(listing.maker)
    # when
    response = api.delete(f"{URL}{listing.pk}/")
    # then
    assert response.status_code == 204
    assert api.get(f"{URL}{listing.pk}/").status_code == 404
    listing.refresh_from_db()
    assert listing.deleted_at is not None


def test_the_schema_documents_the_listing_endpoints(api):
    # when
    schema = api.get("/api/schema/", {"format": "json"})
    # then
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/listings/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/listings/{id}/"])
    output = schema.json()["components"]["schemas"]["ListingOutput"]["properties"]
    assert set(output) >= PUBLIC_FIELDS
    responses = paths["/api/v1/listings/"]["post"]["responses"]
    examples = responses["400"]["content"]["application/json"]["examples"]
    assert {"TooManyDecimals", "AddressNotLinked", "MinAboveMax"} <= set(examples)


def test_search_uses_full_text_on_postgresql(api):
    # given: a stemmed word matches on PostgreSQL (full text), not as a substring on SQLite
    listing = ListingFactory(terms="I accept payments from trusted traders")
    # when
    found = _ids(api.get(URL, {"q": "payment trusted"}))
    # then
    if connection.vendor == "postgresql":
        assert found == [listing.pk]
    else:
        assert found == []


def test_a_fixed_price_out_of_band_is_refused_on_create_and_edit(api, prices, settings):
    # given: the oracle's ETH-TEST rate is 2000; the band is 25 %
    _user, address = _signed_in(api)
    eth, token = eth_asset(), token_asset()
    # when: 2600 (30 % over) and 1400 (30 % under), then 2490 (24.5 % over)
    high = _post(api, _body(eth, token, address, price="2600"))
    low = _post(api, _body(eth, token, address, price="1400"))
    inside = _post(api, _body(eth, token, address, price="2490"))
    # then: refused with the band's code and the oracle's rate in the message
    for refused in (high, low):
        assert refused.status_code == 400, refused.content
        body = refused.json()
        assert body["code"] == "price_out_of_band"
        assert "2000" in body["fields"]["price"][0]["message"]
    assert inside.status_code == 201, inside.content
    # when: the maker edits the listing's price out of the band
    edited = api.patch(f"{URL}{inside.json()['id']}/", data={"price": "3000"}, format="json")
    # then
    assert (edited.status_code, edited.json()["code"]) == (400, "price_out_of_band")


def test_listings_name_both_networks_and_the_makers_public_record(api, prices):
    # given
    listing = ListingFactory()
    # when
    body = api.get(f"{URL}{listing.pk}/").json()
    # then
    assert (body["base_network"], body["quote_network"]) == ("local-a", "local-b")
    assert body["price_pair"] == "ETH-TEST"
    assert set(body["maker_reputation"]) == {
        "completed_swaps",
        "failed_swaps",
        "volume_usd",
        "member_since",
        "kyc_level",
    }
    assert body["maker_reputation"]["failed_swaps"] == 0


@pytest.mark.parametrize("state", ["draft", "paused", "cancelled", "sold_out", "expired"])
def test_a_listing_that_is_not_active_is_only_for_its_maker_and_staff(api, state):
    # given
    listing = ListingFactory(state=state)
    stranger, staff = UserFactory(), UserFactory(is_staff=True)
    # then: a 404 for strangers and anonymous callers, the listing for its maker and staff
    assert api.get(f"{URL}{listing.pk}/").status_code == 404
    api.force_authenticate(stranger)
    assert api.get(f"{URL}{listing.pk}/").status_code == 404
    api.force_authenticate(listing.maker)
    assert api.get(f"{URL}{listing.pk}/").status_code == 200
    api.force_authenticate(staff)
    assert api.get(f"{URL}{listing.pk}/").status_code == 200
