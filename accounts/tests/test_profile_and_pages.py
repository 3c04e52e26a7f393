from __future__ import annotations

import io

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import AuditEvent, User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _image(fmt: str = "JPEG", size=(800, 600)) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010E] = "secret GPS note"  # ImageDescription
    image.save(out, format=fmt, exif=exif)
    return out.getvalue()


def test_profile_update_changes_name_and_language(client):
    # given
    client.force_login(UserFactory())
    # when
    response = client.patch(
        "/api/v1/me",
        {"display_name": "Ada", "preferred_language": "bn"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada"
    assert response.json()["preferred_language"] == "bn"


def test_profile_update_refuses_another_language(client):
    # given
    client.force_login(UserFactory())
    # when
    response = client.patch(
        "/api/v1/me", {"preferred_language": "fr"}, content_type="application/json"
    )
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_choice"


def test_avatar_is_reencoded_small_and_without_metadata(client):
    # given
    user = UserFactory()
    client.force_login(user)
    upload = SimpleUploadedFile("me.jpg", _image(), content_type="image/jpeg")
    # when
    response = client.post("/api/v1/me/avatar", {"avatar": upload})
    # then
    assert response.status_code == 200, response.content
    served = client.get(response.json()["avatar_url"])
    data = b"".join(served.streaming_content)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert max(image.size) == 256
    assert b"secret GPS note" not in data
    assert not image.getexif()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "invalid_image"),
        (b"GIF89a" + b"x", "invalid_image"),
    ],
)
def test_avatar_refuses_what_is_not_an_image(client, content, code):
    # given
    client.force_login(UserFactory())
    # when
    response = client.post("/api/v1/me/avatar", {"avatar": SimpleUploadedFile("a.png", content)})
    # then
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_avatar_refuses_a_large_file(client, settings):
    # given
    settings.AVATAR_MAX_BYTES = 100
    client.force_login(UserFactory())
    # when
    response = client.post("/api/v1/me/avatar", {"avatar": SimpleUploadedFile("a.jpg", _image())})
    # then
    assert response.json()["code"] == "file_too_large"


def test_wallets_api_lists_linked_addresses_paginated(siwe, wallet_key, api):
    # given
    siwe.sign_in(wallet_key)
    # when
    body = api.get("/api/v1/me/wallets").json()
    # then
    assert body["count"] == 1
    assert body["results"][0]["address"] == wallet_key.address


def test_signup_requires_terms_and_records_their_version(client, settings):
    # given
    settings.TERMS_VERSION = "2026-test"
    data = {
        "email": "new@example.com",
        "password1": "a-Long-pass-2026",
        "password2": "a-Long-pass-2026",
    }
    # when
    refused = client.post("/accounts/signup/", data)
    created_without_terms = User.objects.filter(email="new@example.com").exists()
    accepted = client.post("/accounts/signup/", {**data, "accept_terms": "on"})
    # then
    assert refused.status_code == 200 and not created_without_terms
    assert accepted.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.terms_version == "2026-test" and user.terms_accepted_at is not None
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1  # mandatory verification mail


def test_email_sign_in_is_audited_and_failures_store_no_credentials(client):
    # given
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    # when
    client.post("/accounts/login/", {"login": "ada@example.com", "password": "wrong-pass"})
    client.post("/accounts/login/", {"login": "ada@example.com", "password": "pass-word-2026"})
    # then
    failed = AuditEvent.objects.get(event="sign_in_failed")
    assert "wrong-pass" not in str(failed.detail) and "ada@" not in str(failed.detail)
    assert AuditEvent.objects.filter(user=user, event="sign_in", detail__method="password").exists()


def test_headless_api_is_mounted():
    from django.test import Client

    # when
    response = Client().get("/_allauth/browser/v1/config")
    # then
    assert response.status_code == 200
    assert "account" in response.json()["data"]


@pytest.mark.parametrize("path", ["/profile/", "/profile/wallets/", "/profile/kyc/"])
def test_account_pages_render_for_a_signed_in_user(client, path):
    # given
    client.force_login(UserFactory())
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200
    assert "<script>" not in response.content.decode()


def test_account_pages_need_sign_in(client):
    # when
    response = client.get("/profile/")
    # then
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_sign_in_page_has_the_wallet_placeholder(client):
    # when
    html = client.get("/accounts/login/").content.decode()
    # then
    assert 'id="wallet-heading"' in html and 'name="login"' in html


def test_kyc_page_uploads_a_document(client):
    # given
    user = UserFactory()
    client.force_login(user)
    # when
    response = client.post(
        "/profile/kyc/", {"level": "basic", "document": SimpleUploadedFile("id.pdf", b"%PDF-1.4 x")}
    )
    # then
    assert response.status_code == 302
    assert user.kyc_submissions.count() == 1


def test_delete_page_needs_confirmation_then_deletes(client):
    # given
    user = UserFactory()
    client.force_login(user)
    # when
    unconfirmed = client.post("/profile/delete/")
    user.refresh_from_db()
    still_active = user.is_active
    client.post("/profile/delete/", {"confirm": "delete"})
    # then
    assert unconfirmed.status_code == 302 and still_active
    user.refresh_from_db()
    assert not user.is_active


def test_openapi_schema_documents_the_accounts_endpoints(client):
    # when
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    # then
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/v1/auth/siwe/nonce",
        "/api/v1/auth/siwe/verify",
        "/api/v1/auth/token/refresh",
        "/api/v1/auth/logout",
        "/api/v1/me",
    ):
        assert path in paths
    assert "jwtAuth" in response.json()["components"]["securitySchemes"]
