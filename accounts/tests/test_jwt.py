from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import AuditEvent
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _refresh(api, token: str):
    return api.post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")


def test_jwt_pair_has_the_configured_lifetimes():
    # given
    user = UserFactory()
    # when
    pair = services.jwt_pair_issue(user=user)
    # then
    access, refresh = AccessToken(pair["access"]), RefreshToken(pair["refresh"])
    # (iat and exp are whole seconds taken a moment apart)
    assert abs(access["exp"] - access["iat"] - timedelta(minutes=15).total_seconds()) <= 1
    assert abs(refresh["exp"] - refresh["iat"] - timedelta(days=7).total_seconds()) <= 1


def test_jwt_access_token_authenticates_the_api():
    # given
    user = UserFactory()
    pair = services.jwt_pair_issue(user=user)
    # when
    response = _bearer(pair["access"]).get("/api/v1/me")
    # then
    assert response.status_code == 200
    assert response.json()["id"] == user.pk


def test_session_authenticates_the_api(client):
    # given
    user = UserFactory()
    client.force_login(user)
    # when
    response = client.get("/api/v1/me")
    # then
    assert response.status_code == 200
    assert response.json()["username"] == user.username


def test_me_without_credentials_is_401_not_authenticated(api):
    # when
    response = api.get("/api/v1/me")
    # then
    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_jwt_garbage_access_token_is_refused_in_the_error_shape():
    # when
    response = _bearer("not-a-jwt").get("/api/v1/me")
    # then
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The access token is invalid or has expired.",
        "code": "token_not_valid",
    }


def test_jwt_expired_access_token_is_refused():
    # given
    token = AccessToken.for_user(UserFactory())
    token.set_exp(lifetime=-timedelta(seconds=1))
    # when
    response = _bearer(str(token)).get("/api/v1/me")
    # then
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_jwt_refresh_rotates_and_the_old_refresh_token_is_refused(api):
    # given
    pair = services.jwt_pair_issue(user=UserFactory())
    # when
    rotated = _refresh(api, pair["refresh"])
    reused = _refresh(api, pair["refresh"])
    # then
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != pair["refresh"] and new["access"]
    assert _bearer(new["access"]).get("/api/v1/me").status_code == 200
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_not_valid"
    assert _refresh(api, new["refresh"]).status_code == 200


def test_jwt_refresh_with_an_access_token_is_refused(api):
    # given
    pair = services.jwt_pair_issue(user=UserFactory())
    # when
    response = _refresh(api, pair["access"])
    # then
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_logout_revokes_the_refresh_token(api):
    # given
    user = UserFactory()
    pair = services.jwt_pair_issue(user=user)
    # when
    response = _bearer(pair["access"]).post(
        "/api/v1/auth/logout", {"refresh": pair["refresh"]}, format="json"
    )
    # then
    assert response.status_code == 204
    assert _refresh(api, pair["refresh"]).json()["code"] == "token_not_valid"
    assert AuditEvent.objects.filter(user=user, event="logout").count() == 1


def test_logout_ends_the_session(client):
    # given
    user = UserFactory()
    client.force_login(user)
    # when
    response = client.post("/api/v1/auth/logout", {}, content_type="application/json")
    # then
    assert response.status_code == 204
    assert client.get("/api/v1/me").status_code == 401
    assert AuditEvent.objects.filter(user=user, event="logout").count() == 1


def test_logout_with_an_invalid_refresh_token_is_refused(api):
    # when
    response = api.post("/api/v1/auth/logout", {"refresh": "nope"}, format="json")
    # then
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_siwe_tokens_work_end_to_end(siwe, wallet_key):
    # given
    tokens = siwe.sign_in(wallet_key).json()
    # when
    me = _bearer(tokens["access"]).get("/api/v1/me")
    # then
    assert me.json()["wallets"][0]["address"] == wallet_key.address
