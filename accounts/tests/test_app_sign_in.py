"""E-mail users sign in from a mobile app through allauth's app API and get the SIWE JWT pair."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _verified_user():
    user = UserFactory(email="app@example.com")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def test_app_login_by_email_returns_a_jwt_pair_the_api_accepts():
    # given
    user = _verified_user()
    app = APIClient()
    # when
    response = app.post(
        "/_allauth/app/v1/auth/login",
        {"email": "app@example.com", "password": "pass-word-2026"},
        format="json",
    )
    # then
    assert response.status_code == 200, response.content
    meta = response.json()["meta"]
    assert meta["is_authenticated"] is True
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {meta['access_token']}")
    me = api.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["id"] == user.pk
    refreshed = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": meta["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200


def test_app_login_with_a_wrong_password_gets_no_token():
    # given
    _verified_user()
    # when
    response = APIClient().post(
        "/_allauth/app/v1/auth/login",
        {"email": "app@example.com", "password": "wrong-password"},
        format="json",
    )
    # then
    assert response.status_code == 400
    assert "access_token" not in response.json().get("meta", {})
