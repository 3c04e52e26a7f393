"""POST /api/v1/swaps/quote/: the terms, fees, times and every refusal before taking; the
same rules as creating a swap, and no write."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chains.tests.support import user as dev_account
from marketplace.models import Listing
from swaps.models import Notification, Swap
from swaps.tests.factories import party, secret_pair

pytestmark = pytest.mark.django_db


def post(api, path, listing, *, amount="1", address=None, hashlock=None):
    body = {
        "listing": listing.pk,
        "amount": amount,
        "taker_address": address or dev_account(2).address,
        "hashlock": hashlock or secret_pair()[1],
    }
    return api.post(path, body, format="json")


def test_quote_states_terms_fees_and_times_and_writes_nothing(taker_api, listing):
    # given
    notes = Notification.objects.count()
    # when
    response = post(taker_api, "/api/v1/swaps/quote/", listing, amount="1.25")
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["can_take"] is True and body["refusals"] == []
    assert body["you_get"] == {
        "amount": "1.25",
        "symbol": "ETH",
        "network": "local-a",
        "address": dev_account(2).address,
    }
    assert body["you_pay"] == {"amount": "3.125", "symbol": "TEST", "network": "local-b"}
    assert body["price"] == "2.5" and body["platform_fee"] == "0"
    assert body["value_usd"] == "3.13"  # the larger leg: 3.125 TEST at 1.00 USD
    # TEST is a token: approve and lock on local-b, then the redeem on local-a
    assert [(f["step"], f["network"]) for f in body["fees"]] == [
        ("approve", "local-b"),
        ("lock", "local-b"),
        ("redeem", "local-a"),
    ]
    lock_fee = body["fees"][1]
    assert lock_fee["gas"] == 235_000 and int(lock_fee["gas_price_wei"]) > 0
    assert Decimal(lock_fee["amount"]) == pytest.approx(
        Decimal(235_000 * int(lock_fee["gas_price_wei"])) / 10**18, rel=Decimal("1e-6")
    )
    assert lock_fee["usd"] is not None  # ETH has a USD price here (2.50)
    kinds = {(b["kind"], b["network"], b["symbol"]): b["sufficient"] for b in body["balances"]}
    assert kinds == {
        ("asset", "local-b", "TEST"): True,
        ("gas", "local-b", "ETH"): True,
        ("gas", "local-a", "ETH"): True,
    }
    times = {k: datetime.fromisoformat(v) for k, v in body["times"].items()}
    assert times["lock_by"] < times["maker_lock_by"] < times["redeem_by"]
    assert times["redeem_by"] <= times["maker_refund_at"] < times["taker_refund_at"]
    assert body["taker_timelock"] - body["maker_timelock"] == 300
    # and nothing was reserved, created or told
    assert Listing.objects.get(pk=listing.pk).remaining == Decimal("3")
    assert Swap.objects.count() == 0 and Notification.objects.count() == notes


def test_a_taker_without_the_quote_asset_is_told_before_taking_and_create_refuses(
    api, swap_env, listing
):
    # given: dev account 5 holds ETH but no TEST
    taker, key = party(5)
    api.force_authenticate(taker)
    # when
    quote = post(api, "/api/v1/swaps/quote/", listing, amount="1", address=key.address).json()
    created = post(api, "/api/v1/swaps/", listing, amount="1", address=key.address)
    # then
    assert quote["can_take"] is False
    [refusal] = quote["refusals"]
    assert refusal["code"] == "insufficient_balance"
    assert "holds 0 TEST on local-b" in refusal["detail"]
    assert "needs 2.5 TEST" in refusal["detail"] and "Add 2.5 TEST" in refusal["detail"]
    assert (created.status_code, created.json()["code"]) == (409, "insufficient_balance")
    assert created.json()["detail"] == refusal["detail"]
    assert Swap.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "code", "words"),
    [
        ("0.1", "amount_below_minimum", "at least 0.5 ETH per trade"),
        ("2.5", "amount_above_maximum", "at most 2 ETH per trade; you asked for 2.5"),
        ("1.0000000000000000001", "too_many_decimals", "at most 18 decimals"),
    ],
)
def test_quote_and_create_refuse_the_amount_alike_with_its_numbers(
    taker_api, listing, amount, code, words
):
    # when
    quote = post(taker_api, "/api/v1/swaps/quote/", listing, amount=amount).json()
    created = post(taker_api, "/api/v1/swaps/", listing, amount=amount)
    # then
    assert [r["code"] for r in quote["refusals"]] == [code]
    assert words in quote["refusals"][0]["detail"]
    assert created.json()["code"] == code
    assert created.json()["detail"] == quote["refusals"][0]["detail"]


def test_the_kyc_refusal_names_the_limit_the_value_and_the_way_out(taker_api, listing, settings):
    # given: 2 USD for an unverified taker; 1 ETH costs 2.5 TEST = 2.50 USD
    settings.KYC_LIMITS_USD = {"none": Decimal("2"), "basic": Decimal("10"), "verified": 10}
    # when
    quote = post(taker_api, "/api/v1/swaps/quote/", listing, amount="1").json()
    created = post(taker_api, "/api/v1/swaps/", listing, amount="1")
    # then: the taker's limit first (the seller's, the same here, follows)
    refusal = quote["refusals"][0]
    assert refusal["code"] == "kyc_limit_exceeded"
    assert "worth 2.50 USD, above your limit of 2.00 USD" in refusal["detail"]
    assert "at most 0.8 ETH" in refusal["detail"]
    assert "verify your identity" in refusal["detail"]
    assert (created.status_code, created.json()["code"]) == (403, "kyc_limit_exceeded")


def test_quote_lists_every_refusal_at_once(api, swap_env, listing, settings):
    # given: a poor taker over the limit, asking too much
    settings.KYC_LIMITS_USD = {"none": Decimal("1"), "basic": Decimal("1"), "verified": 1}
    taker, key = party(5)
    api.force_authenticate(taker)
    # when
    quote = post(api, "/api/v1/swaps/quote/", listing, amount="2.5", address=key.address)
    # then
    codes = [r["code"] for r in quote.json()["refusals"]]
    assert codes == [
        "kyc_limit_exceeded",
        "maker_kyc_limit_exceeded",
        "amount_above_maximum",
        "insufficient_balance",
    ]


def test_quote_needs_a_sign_in_and_a_real_listing(api, taker_api, swap_env):
    # given
    missing = Listing(pk=999_999)
    # when
    answer = post(taker_api, "/api/v1/swaps/quote/", missing)
    # then
    assert (answer.status_code, answer.json()["code"]) == (404, "listing_not_found")
    api.force_authenticate(None)
    assert post(api, "/api/v1/swaps/quote/", missing).status_code == 401


def test_the_take_form_summary_shows_terms_fees_times_and_what_stops_a_take(
    client, swap_env, listing
):
    # given: dev account 5 holds no TEST
    taker, key = party(5)
    client.force_login(taker)
    # when
    page = client.post(
        "/swaps/quote/", {"listing": listing.pk, "amount": "1", "taker_address": key.address}
    )
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-can-take="false"' in html
    assert "2.5 TEST" in html and "Platform fee" in html and "charges nothing" in html
    assert html.count("<time datetime=") == 5
    assert 'data-code="insufficient_balance"' in html


def test_the_take_form_summary_says_why_no_quote_can_be_made(client, swap_env, listing):
    client.force_login(party(2)[0])
    page = client.post("/swaps/quote/", {"listing": listing.pk, "amount": "abc"})
    assert 'data-can-take="false"' in page.content.decode()
    assert "positive number" in page.content.decode()


def test_the_summary_and_its_refusals_are_in_bengali_too(client, swap_env, listing, settings):
    # given: a Bengali reader over the KYC limit
    settings.KYC_LIMITS_USD = {"none": Decimal("2"), "basic": Decimal("10"), "verified": 10}
    client.force_login(party(2)[0])
    client.cookies["django_language"] = "bn"
    # when
    html = client.post(
        "/swaps/quote/",
        {"listing": listing.pk, "amount": "1", "taker_address": dev_account(2).address},
    ).content.decode()
    # then: the words, the numbers and the way out
    assert "প্ল্যাটফর্ম ফি" in html and "এই সাইট কিছুই নেয় না" in html
    assert "এই সোয়াপের মূল্য 2.50 USD" in html and "সর্বোচ্চ 0.8 ETH" in html
