"""Logout ends access tokens at once; sessions end after SESSION_IDLE_MINUTES of inactivity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_logout_with_the_refresh_token_ends_the_access_token_at_once():
    # given
    pair = services.jwt_pair_issue(user=UserFactory())
    assert _bearer(pair["access"]).get("/api/v1/me").status_code == 200
    # when
    out = APIClient().post("/api/v1/auth/logout", {"refresh": pair["refresh"]}, format="json")
    # then
    assert out.status_code == 204
    after = _bearer(pair["access"]).get("/api/v1/me")
    assert after.status_code == 401
    assert after.json()["code"] == "token_not_valid"


def test_logout_with_the_access_token_ends_it_and_every_refresh_token():
    # given: two devices
    user = UserFactory()
    phone, tablet = services.jwt_pair_issue(user=user), services.jwt_pair_issue(user=user)
    # when
    _bearer(phone["access"]).post("/api/v1/auth/logout", {}, format="json")
    # then
    assert _bearer(phone["access"]).get("/api/v1/me").status_code == 401
    assert _bearer(tablet["access"]).get("/api/v1/me").status_code == 401
    refreshed = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": tablet["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401


def test_a_new_sign_in_after_logout_works():
    # given
    user = UserFactory()
    old = services.jwt_pair_issue(user=user)
    _bearer(old["access"]).post("/api/v1/auth/logout", {}, format="json")
    user.refresh_from_db()
    # when
    new = services.jwt_pair_issue(user=user)
    # then
    assert _bearer(new["access"]).get("/api/v1/me").status_code == 200


@pytest.mark.django_db(transaction=True)  # the lookup runs in another thread
def test_websocket_auth_refuses_an_ended_access_token():
    # given
    from asgiref.sync import async_to_sync

    from core.ws_auth import ws_user

    user = UserFactory()
    pair = services.jwt_pair_issue(user=user)
    scope = {"headers": [(b"authorization", f"Bearer {pair['access']}".encode())]}
    assert async_to_sync(ws_user)(scope)[0] == user
    # when
    services.jwt_end_all(user=user)
    # then
    assert async_to_sync(ws_user)(scope)[0] is None


def test_session_idle_limit_is_the_setting(settings):
    # then
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_MINUTES * 60 == 3600


def test_a_session_idle_past_the_limit_is_signed_out(client):
    # given: signed in, then nothing for longer than SESSION_IDLE_MINUTES
    client.force_login(UserFactory())
    assert client.get("/profile/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    # when
    response = client.get("/profile/")
    # then
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_activity_moves_the_session_expiry_forward(client):
    # given: signed in, last seen two minutes ago, 59 minutes of the hour left
    client.force_login(UserFactory())
    session = client.session
    session["_last_seen"] = int(timezone.now().timestamp()) - 120
    session.save()
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=59))
    # when
    client.get("/profile/")
    # then: a full idle period from now
    expiry = Session.objects.get().expire_date
    assert expiry > timezone.now() + timedelta(minutes=59, seconds=30)
