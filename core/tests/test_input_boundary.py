"""Finding 3 and 11: untrusted input is a 4xx in the project's shape, never a 500 or a traceback."""

from __future__ import annotations

import asyncio

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from core.boundary import BodySizeLimit, json_too_deep, out_of_range_field
from marketplace.tests.factories import ListingFactory

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
def api() -> APIClient:
    return APIClient(raise_request_exception=False)


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/siwe/nonce", "/api/v1/auth/siwe/verify", "/_allauth/app/v1/auth/login"]
)
def test_json_nested_too_deep_is_a_400(api, path):
    # when
    response = api.post(path, DEEP, content_type="application/json")
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"


def test_json_within_the_depth_limit_reaches_the_view(api):
    # when: 3 levels, valid shape for the view
    response = api.post(
        "/api/v1/auth/siwe/nonce", {"address": "0x" + "ab" * 20, "chain_id": 31337}, format="json"
    )
    # then
    assert response.status_code in (201, 400)
    assert response.json().get("code") != "json_too_deep"


def test_malformed_json_is_a_400(api):
    # when
    response = api.post("/api/v1/auth/siwe/nonce", '{"address": ', content_type="application/json")
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_oversized_json_is_a_413(api):
    # when: 2.7 MB, over Django's and the API's limits
    body = '{"address": "' + "x" * 2_700_000 + '"}'
    response = api.post("/api/v1/auth/siwe/nonce", body, content_type="application/json")
    # then
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_an_oversized_upload_is_a_413(client, settings):
    # given
    settings.REQUEST_MAX_BYTES = 1000
    # when
    response = client.post(
        "/api/v1/me/avatar", {"avatar": ("x" * 2000)}, HTTP_CONTENT_LENGTH="5000"
    )
    # then
    assert response.status_code == 413


def test_the_asgi_limit_refuses_a_streamed_body_before_the_app_stores_it(settings):
    # given: a body of 3 chunks, no Content-Length, over the limit
    settings.REQUEST_MAX_BYTES = 100
    reached = []

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        reached.append(True)

    chunks = [{"type": "http.request", "body": b"x" * 60, "more_body": True}] * 3
    sent: list[dict] = []

    async def receive():
        return chunks.pop(0)

    async def send(message):
        sent.append(message)

    # when
    asyncio.run(BodySizeLimit(app)({"type": "http", "headers": []}, receive, send))
    # then
    assert reached == []
    assert sent[0]["status"] == 413


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("base_asset=99999999999999999999", "base_asset", "out_of_range"),
        # exponents are not plain decimal notation (core.decimals.parse_decimal): refused
        # before any query, on every database
        ("price_min=1e308", "price_min", "invalid_decimal"),
        ("price_max=" + "9" * 100, "price_max", "out_of_range"),
        ("min_amount=1e308", "min_amount", "invalid_decimal"),
    ],
)
def test_out_of_range_listing_filters_are_a_400_naming_the_field(api, query, field, code):
    # given
    ListingFactory()
    # when
    response = api.get(f"/api/v1/listings/?{query}")
    # then: never a 500. Where the number cannot be held (SQLite's 64-bit integers and
    # fixed-width decimal text), 400 naming the parameter; PostgreSQL compares it and
    # simply finds nothing (until the marketplace bounds its filters: core.api.fields).
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400 or not settings.USING_POSTGRES:
        body = response.json()
        assert response.status_code == 400
        assert body["code"] == code
        assert field in body["fields"]


@pytest.mark.parametrize("query", ["price_min=1e308", "min_amount=1e308", "price_max=" + "9" * 100])
def test_out_of_range_offer_book_filters_show_a_400_page_without_a_traceback(settings, query):
    # given: DEBUG on, as in `make run`
    settings.DEBUG = True
    ListingFactory()
    browser = Client(raise_request_exception=False)
    # when
    response = browser.get(f"/market/ETH-TEST/?{query}")
    # then: refused (or the filter ignored), never a 500 with the debug page
    text = response.content.decode()
    assert response.status_code in (200, 400)
    assert "Traceback" not in text and "InvalidOperation" not in text


def test_out_of_range_field_names_the_parameter():
    # then
    assert out_of_range_field({"q": "hello", "page": "2", "amount": "1e200"}) == "amount"
    assert out_of_range_field({"id": "9" * 79}) == "id"
    assert out_of_range_field({"amount": "1.5", "n": 3}) is None


def test_json_depth_scan_ignores_brackets_inside_strings():
    # then
    assert not json_too_deep(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 32)
    assert json_too_deep(b"[" * 33 + b"]" * 33, 32)
    assert not json_too_deep(b"[" * 32 + b"]" * 32, 32)


# Finding 11 ----------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer  "])
def test_a_malformed_bearer_header_is_401_token_invalid(api, header):
    # when
    response = api.get("/api/v1/me", HTTP_AUTHORIZATION=header)
    # then
    assert response.status_code == 401
    assert response.json()["code"] in ("token_invalid", "not_authenticated")
    assert response.json()["code"] != "account_inactive"


def test_a_two_part_malformed_bearer_header_is_token_invalid(api):
    # when
    response = api.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer a b")
    # then
    assert response.json() == {
        "detail": "The Authorization header must be `Bearer <access token>`.",
        "code": "token_invalid",
    }


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_paths_answer_json_404_with_a_session_and_no_csrf_token(method):
    # given: a browser with a session cookie, enforcing CSRF
    from accounts.tests.factories import UserFactory

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory())
    # when
    response = getattr(browser, method)("/api/v1/no-such-thing/", {})
    # then
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_csrf_failure_under_api_is_json():
    # given
    from accounts.tests.factories import UserFactory

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(UserFactory())
    # when: a real endpoint, session auth, no CSRF token
    response = browser.patch("/api/v1/me", "{}", content_type="application/json")
    # then
    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] in ("csrf_failed", "permission_denied")


def test_a_csrf_failure_on_a_page_is_the_error_page():
    # when
    response = Client(enforce_csrf_checks=True).post("/i18n/setlang/", {"language": "bn"})
    # then
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_method_not_allowed_is_json(api):
    # when
    response = api.delete("/api/v1/")
    # then
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
