from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuditEvent, KycSubmission, User, Wallet
from accounts.tests.factories import KycSubmissionFactory, UserFactory, WalletFactory

pytestmark = pytest.mark.django_db


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_user_delete_anonymises_and_keeps_the_row(django_capture_on_commit_callbacks):
    # given
    user = UserFactory(
        first_name="Ada", last_name="L", display_name="ada", icp_principal="aaaaa-aa"
    )
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    WalletFactory(user=user)
    submission = KycSubmissionFactory(user=user)
    storage = submission.document.storage
    document = submission.document.name
    assert storage.exists(document)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.user_delete(user=user)
    # then
    user.refresh_from_db()
    assert user.username == f"deleted-{user.pk}"
    assert (user.email, user.first_name, user.last_name, user.display_name) == ("", "", "", "")
    assert user.icp_principal == ""
    assert not user.is_active and not user.has_usable_password()
    assert user.deleted_at is not None
    assert not Wallet.objects.filter(user=user).exists()
    assert not EmailAddress.objects.filter(user=user).exists()
    assert KycSubmission.objects.get(pk=submission.pk).document.name == ""
    assert not storage.exists(document)
    assert AuditEvent.objects.filter(user=user, event="deletion").exists()


def test_user_delete_ends_every_session(client):
    # given: two browsers signed in
    user = UserFactory()
    other = type(client)()
    client.force_login(user)
    other.force_login(user)
    # when
    client.delete("/api/v1/me")
    # then
    assert client.get("/api/v1/me").status_code == 401
    assert other.get("/api/v1/me").status_code == 401


def test_user_delete_revokes_every_refresh_token_and_access_token(api):
    # given: two devices with tokens
    user = UserFactory()
    first, second = services.jwt_pair_issue(user=user), services.jwt_pair_issue(user=user)
    # when
    response = _bearer(first["access"]).delete("/api/v1/me")
    # then
    assert response.status_code == 204
    for pair in (first, second):
        refreshed = api.post(
            "/api/v1/auth/token/refresh", {"refresh": pair["refresh"]}, format="json"
        )
        assert refreshed.status_code == 401
        assert _bearer(pair["access"]).get("/api/v1/me").status_code == 401


def test_deleted_wallet_address_can_start_a_new_account(siwe, wallet_key):
    # given
    old = siwe.sign_in(wallet_key).json()["user"]["id"]
    services.user_delete(user=User.objects.get(pk=old))
    # when
    response = siwe.sign_in(wallet_key)
    # then
    assert response.status_code == 200
    assert response.json()["user"]["id"] != old
