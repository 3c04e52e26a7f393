"""Finding 4 (pixel bombs) and 8 (KYC content type from the content, not the name)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts import services
from accounts.models import KycSubmission
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _png(size: tuple[int, int], mode: str = "1") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_an_avatar_declaring_a_huge_canvas_is_refused_before_decoding(client, monkeypatch):
    # given: 6320 x 6320 pixels in a small file (the probe's 128 KiB PNG)
    data = _png((6320, 6320))
    assert len(data) < 200_000
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    client.force_login(UserFactory())
    # when
    response = client.post("/api/v1/me/avatar", {"avatar": SimpleUploadedFile("a.png", data)})
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large"
    assert decoded == []


def test_an_avatar_under_the_pixel_cap_is_accepted(client, settings):
    # given
    settings.UPLOAD_IMAGE_MAX_PIXELS = 100 * 100
    client.force_login(UserFactory())
    # when
    ok = client.post(
        "/api/v1/me/avatar", {"avatar": SimpleUploadedFile("a.png", _png((100, 100), "RGB"))}
    )
    big = client.post(
        "/api/v1/me/avatar", {"avatar": SimpleUploadedFile("b.png", _png((101, 100), "RGB"))}
    )
    # then
    assert ok.status_code == 200, ok.content
    assert big.json()["code"] == "image_too_large"


def test_pillow_guard_follows_the_setting(settings):
    # then: set once at start-up from the setting
    assert settings.UPLOAD_IMAGE_MAX_PIXELS == Image.MAX_IMAGE_PIXELS


POLYGLOT = b"%PDF-1.4<html><script>alert(document.domain)</script></html>"


def test_a_kyc_document_named_html_is_stored_as_pdf_and_served_as_pdf(admin_client):
    # given
    user = UserFactory()
    # when
    submission = services.kyc_submit(
        user=user, level="basic", document=SimpleUploadedFile("x.html", POLYGLOT, "text/html")
    )
    served = admin_client.get(f"/admin/accounts/kycsubmission/{submission.pk}/document/")
    # then
    assert submission.document.name.endswith(".pdf")
    assert served.status_code == 200
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"].startswith("attachment")
    assert "sandbox" in served["Content-Security-Policy"]


def test_a_kyc_png_that_is_not_an_image_is_refused():
    # when / then
    from core.api.errors import ApiError

    with pytest.raises(ApiError) as refused:
        services.kyc_submit(
            user=UserFactory(),
            level="basic",
            document=SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\n<html></html>"),
        )
    assert refused.value.get_codes() == "invalid_document"


def test_a_kyc_jpeg_named_svg_is_stored_as_jpg():
    # given
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, format="JPEG")
    # when
    submission = services.kyc_submit(
        user=UserFactory(), level="basic", document=SimpleUploadedFile("id.svg", out.getvalue())
    )
    # then
    assert submission.document.name.endswith(".jpg")


def test_an_old_document_with_a_foreign_extension_is_served_as_opaque_bytes(admin_client):
    # given: stored before the fix, under its uploader's extension
    from accounts.tests.factories import KycSubmissionFactory

    submission = KycSubmissionFactory()
    storage = submission.document.storage
    name = storage.save("documents/old.html", io.BytesIO(POLYGLOT))
    KycSubmission.objects.filter(pk=submission.pk).update(document=name)
    # when
    served = admin_client.get(f"/admin/accounts/kycsubmission/{submission.pk}/document/")
    # then
    assert served["Content-Type"] == "application/octet-stream"
