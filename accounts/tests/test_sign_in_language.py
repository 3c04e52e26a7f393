"""The profile's language applies on sign-in (issue 18, item 8): signing in by e-mail or by
wallet sets the language cookie to the saved language, and the answer is in it; a new
account starts in the language it was created in. (Internet Identity: in
test_internet_identity.py.)"""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings

from accounts.models import User
from accounts.tests.factories import UserFactory, WalletFactory

pytestmark = pytest.mark.django_db

COOKIE = settings.LANGUAGE_COOKIE_NAME


def test_email_sign_in_switches_to_the_profiles_language(client):
    # given: the browser reads English, the profile says Bengali
    user = UserFactory(email="ada@example.com", preferred_language="bn")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    client.cookies[COOKIE] = "en"
    # when
    response = client.post(
        "/accounts/login/", {"login": "ada@example.com", "password": "pass-word-2026"}
    )
    # then
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "bn"
    assert client.get("/profile/").headers["Content-Language"] == "bn"


def test_failed_email_sign_in_keeps_the_browsers_language(client):
    # given
    user = UserFactory(email="ada@example.com", preferred_language="bn")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    # when
    response = client.post("/accounts/login/", {"login": "ada@example.com", "password": "nope"})
    # then
    assert COOKIE not in response.cookies


def test_siwe_sign_in_switches_to_the_profiles_language(siwe, api, wallet_key):
    # given
    user = UserFactory(preferred_language="bn")
    WalletFactory(user=user, address=wallet_key.address)
    # when
    response = siwe.sign_in(wallet_key)
    # then
    assert response.status_code == 200
    assert response.cookies[COOKIE].value == "bn"
    assert response.headers["Content-Language"] == "bn"


def test_siwe_sign_in_of_an_english_profile_switches_back_to_english(siwe, api, wallet_key):
    # given: a Bengali browser
    user = UserFactory(preferred_language="en")
    WalletFactory(user=user, address=wallet_key.address)
    api.cookies[COOKIE] = "bn"
    # when
    response = siwe.sign_in(wallet_key)
    # then
    assert response.cookies[COOKIE].value == "en"


def test_a_new_wallet_account_starts_in_the_language_it_signed_up_in(siwe, api, wallet_key):
    # given
    api.cookies[COOKIE] = "bn"
    # when
    response = siwe.sign_in(wallet_key)
    # then
    assert response.status_code == 200
    assert User.objects.get(wallets__address=wallet_key.address).preferred_language == "bn"
    assert response.cookies[COOKIE].value == "bn"


def test_a_new_email_account_starts_in_the_language_it_signed_up_in(client):
    # given
    client.cookies[COOKIE] = "bn"
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
    # then
    assert User.objects.get(email="new@example.com").preferred_language == "bn"
