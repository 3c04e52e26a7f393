from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/v1/auth/siwe/nonce", {"address": "0x" + "ab" * 20, "chain_id": 31337}),
        ("/api/v1/auth/siwe/verify", {"message": "x", "signature": "0x"}),
        ("/api/v1/auth/token/refresh", {"refresh": "x"}),
    ],
)
def test_auth_endpoints_are_throttled_with_retry_after(api, settings, path, payload):
    # given: the auth scope allows 3 a minute, the general anonymous rate far more
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "auth": "3/minute"}
    # when
    statuses = [api.post(path, payload, format="json").status_code for _ in range(3)]
    response = api.post(path, payload, format="json")
    # then
    assert 429 not in statuses
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"


def test_auth_throttle_does_not_touch_other_endpoints(api, settings):
    # given
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "auth": "1/minute"}
    api.post("/api/v1/auth/token/refresh", {"refresh": "x"}, format="json")
    # when
    response = api.get("/api/v1/")
    # then
    assert response.status_code == 200


def test_allauth_sign_in_is_rate_limited(client, settings):
    # given: allauth's own limit for its sign-in form
    settings.ACCOUNT_RATE_LIMITS = {"login": "2/m/ip", "login_failed": False}
    data = {"login": "nobody@example.com", "password": "wrong-password"}
    # when
    statuses = [client.post("/accounts/login/", data).status_code for _ in range(3)]
    # then
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429


def test_siwe_nonce_throttle_is_not_bypassed_by_random_forwarded_for(api, settings):
    # given
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "auth": "3/minute"}
    payload = {"address": "0x" + "ab" * 20, "chain_id": 31337}
    # when
    statuses = [
        api.post(
            "/api/v1/auth/siwe/nonce", payload, format="json", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}"
        ).status_code
        for n in range(4)
    ]
    # then
    assert statuses == [201, 201, 201, 429]
