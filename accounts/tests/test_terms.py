"""Terms of service: accepted on every sign-up path (the first SIWE sign-in too), pages to
read them, and re-acceptance when TERMS_VERSION changes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.conftest import sign
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/terms/", "/privacy/"])
def test_terms_and_privacy_pages_are_public(client, path):
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    assert b"<h1>" in response.content


def test_a_first_siwe_sign_in_without_terms_gets_a_clear_code_until_accepted(siwe, wallet_key):
    # given: a new wallet signs in without accepting
    answer = siwe.sign_in(wallet_key, accept_terms=False)
    assert answer.status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['access']}")
    # when
    blocked = api.get("/api/v1/me/wallets")
    status = api.get("/api/v1/me/terms")
    accepted = api.post("/api/v1/me/terms", {"version": status.json()["version"]}, format="json")
    after = api.get("/api/v1/me/wallets")
    # then
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "terms_not_accepted"
    assert status.json()["accepted"] is False
    assert accepted.status_code == 200 and accepted.json()["accepted"] is True
    assert after.status_code == 200


def test_a_first_siwe_sign_in_can_accept_the_terms_at_once(siwe, wallet_key, settings):
    # given
    message = siwe.nonce(wallet_key)["message"]
    # when
    answer = siwe.api.post(
        "/api/v1/auth/siwe/verify",
        {"message": message, "signature": sign(wallet_key, message), "accept_terms": True},
        format="json",
    )
    # then
    assert answer.json()["user"]["terms_version"] == settings.TERMS_VERSION
    user = User.objects.get(pk=answer.json()["user"]["id"])
    assert user.terms_accepted_at is not None


def test_the_page_asks_a_new_wallet_account_before_it_is_used(siwe, wallet_key):
    # given: the browser's session from the SIWE sign-in
    siwe.sign_in(wallet_key, accept_terms=False)
    browser = siwe.api
    # when
    page = browser.get("/profile/")
    form = browser.get(page["Location"])
    done = browser.post("/terms/accept/", {"accept_terms": "on", "next": "/profile/"})
    again = browser.get("/profile/")
    # then
    assert page.status_code == 302 and page["Location"].startswith("/terms/accept/")
    assert form.status_code == 200
    assert done.status_code == 302 and done["Location"] == "/profile/"
    assert again.status_code == 200


def test_accepting_needs_the_box_ticked(client):
    # given
    client.force_login(UserFactory(terms_version="", terms_accepted_at=None))
    # when
    response = client.post("/terms/accept/", {"next": "/"})
    # then
    assert response.status_code == 200
    assert User.objects.get().terms_version == ""


def test_the_accept_page_never_redirects_off_site(client):
    # given
    client.force_login(UserFactory(terms_version=""))
    # when
    response = client.post(
        "/terms/accept/", {"accept_terms": "on", "next": "https://evil.example/"}
    )
    # then
    assert response["Location"] == "/"


def test_a_new_terms_version_asks_everyone_again(client, settings):
    # given: accepted the old version
    user = UserFactory()
    client.force_login(user)
    assert client.get("/profile/").status_code == 200
    # when
    settings.TERMS_VERSION = "2027-01"
    page = client.get("/profile/")
    api = client.get("/api/v1/me/wallets")
    # then
    assert page.status_code == 302 and "/terms/accept/" in page["Location"]
    assert api.status_code == 403 and api.json()["code"] == "terms_not_accepted"


def test_accepting_an_outdated_version_by_api_is_refused(client, settings):
    # given
    client.force_login(UserFactory(terms_version=""))
    # when
    response = client.post(
        "/api/v1/me/terms", {"version": "1999-01"}, content_type="application/json"
    )
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "terms_version_mismatch"


def test_email_sign_up_records_the_terms(client, settings):
    # when
    client.post(
        "/accounts/signup/",
        {
            "email": "new@example.com",
            "password1": "a-long-pass-2026",
            "password2": "a-long-pass-2026",
            "accept_terms": "on",
        },
    )
    refused = client.post(
        "/accounts/signup/",
        {
            "email": "no@example.com",
            "password1": "a-long-pass-2026",
            "password2": "a-long-pass-2026",
        },
    )
    # then
    assert User.objects.get(email="new@example.com").terms_version == settings.TERMS_VERSION
    assert refused.status_code == 200
    assert not User.objects.filter(email="no@example.com").exists()


def test_app_sign_up_requires_the_terms():
    # given
    api = APIClient()
    body = {"email": "app-new@example.com", "password": "a-long-pass-2026"}
    # when
    refused = api.post("/_allauth/app/v1/auth/signup", body, format="json")
    accepted = api.post(
        "/_allauth/app/v1/auth/signup", {**body, "accept_terms": True}, format="json"
    )
    # then
    assert refused.status_code == 400
    assert accepted.status_code in (200, 401)  # 401: e-mail verification pending
    assert User.objects.get(email="app-new@example.com").terms_version
