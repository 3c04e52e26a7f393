from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts import selectors, services
from accounts.models import AuditEvent, KycSubmission, User
from accounts.tests.factories import KycSubmissionFactory, UserFactory
from core.api.errors import ApiError

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n"


@pytest.mark.parametrize(
    ("level", "limit"),
    [("none", Decimal("1000")), ("basic", Decimal("10000")), ("verified", Decimal("100000"))],
)
def test_kyc_limit_usd_follows_the_level(level, limit):
    # given
    user = UserFactory(kyc_level=level)
    # when / then
    assert selectors.kyc_limit_usd(user) == limit


def test_kyc_limit_usd_reads_the_setting(settings):
    # given
    settings.KYC_LIMITS_USD = {
        "none": Decimal("5"),
        "basic": Decimal("6"),
        "verified": Decimal("7"),
    }
    # when / then
    assert selectors.kyc_limit_usd(UserFactory(kyc_level="basic")) == Decimal("6")


def test_kyc_submit_stores_the_document_outside_media(settings):
    # given
    user = UserFactory()
    # when
    submission = services.kyc_submit(
        user=user, level="basic", document=SimpleUploadedFile("passport scan.pdf", PDF)
    )
    # then
    path = submission.document.path
    assert not path.startswith(str(settings.MEDIA_ROOT))
    assert "passport" not in path
    with pytest.raises(ValueError):
        submission.document.url
    assert AuditEvent.objects.filter(user=user, event="kyc_submitted").exists()


def test_kyc_submit_refuses_a_non_document():
    # when / then
    with pytest.raises(ApiError) as exc:
        services.kyc_submit(
            user=UserFactory(), level="basic", document=SimpleUploadedFile("x.pdf", b"MZ\x90\x00")
        )
    assert exc.value.get_codes() == "invalid_document"


def test_kyc_submit_refuses_a_second_pending_submission():
    # given
    user = UserFactory()
    KycSubmissionFactory(user=user)
    # when / then
    with pytest.raises(ApiError) as exc:
        services.kyc_submit(user=user, level="basic", document=SimpleUploadedFile("a.pdf", PDF))
    assert exc.value.get_codes() == "kyc_pending"


def test_kyc_approve_raises_the_level_and_is_audited():
    # given
    staff = UserFactory(is_staff=True)
    submission = KycSubmissionFactory(level="verified")
    # when
    services.kyc_decide(submission=submission, reviewer=staff, approve=True)
    # then
    submission.user.refresh_from_db()
    assert submission.user.kyc_level == User.KycLevel.VERIFIED
    event = AuditEvent.objects.get(event="kyc_decision")
    assert event.detail["decision"] == "approved" and event.detail["reviewer"] == staff.pk


def test_kyc_reject_needs_a_reason_and_keeps_the_level():
    # given
    staff = UserFactory(is_staff=True)
    submission = KycSubmissionFactory()
    # when
    with pytest.raises(ApiError) as exc:
        services.kyc_decide(submission=submission, reviewer=staff, approve=False, reason=" ")
    services.kyc_decide(submission=submission, reviewer=staff, approve=False, reason="Blurry")
    # then
    assert exc.value.get_codes() == "reason_required"
    submission.refresh_from_db()
    assert submission.status == KycSubmission.Status.REJECTED and submission.reason == "Blurry"
    submission.user.refresh_from_db()
    assert submission.user.kyc_level == User.KycLevel.NONE


def test_kyc_decision_happens_once():
    # given
    staff = UserFactory(is_staff=True)
    submission = KycSubmissionFactory()
    services.kyc_decide(submission=submission, reviewer=staff, approve=True)
    # when / then
    with pytest.raises(ApiError) as exc:
        services.kyc_decide(submission=submission, reviewer=staff, approve=False, reason="no")
    assert exc.value.get_codes() == "kyc_not_pending"


def test_kyc_api_uploads_and_reports_the_limit(client):
    # given
    user = UserFactory()
    client.force_login(user)
    # when
    created = client.post(
        "/api/v1/me/kyc", {"level": "basic", "document": SimpleUploadedFile("id.pdf", PDF)}
    )
    status = client.get("/api/v1/me/kyc").json()
    # then
    assert created.status_code == 201, created.content
    assert status["level"] == "none" and status["limit_usd"] == "1000.00"
    assert [s["status"] for s in status["submissions"]] == ["pending"]
    assert "document" not in status["submissions"][0]


def test_kyc_admin_approve_action_calls_the_service(admin_client):
    # given
    submission = KycSubmissionFactory()
    # when
    response = admin_client.post(
        "/admin/accounts/kycsubmission/",
        {"action": "approve", "_selected_action": [submission.pk]},
    )
    # then
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == "approved"
    assert submission.reviewed_by is not None


def test_kyc_admin_reject_action_asks_for_a_reason(admin_client):
    # given
    submission = KycSubmissionFactory()
    url = "/admin/accounts/kycsubmission/"
    # when
    asked = admin_client.post(url, {"action": "reject", "_selected_action": [submission.pk]})
    done = admin_client.post(
        url, {"action": "reject", "_selected_action": [submission.pk], "reason": "Expired ID"}
    )
    # then
    assert asked.status_code == 200 and b"reason" in asked.content
    assert done.status_code == 302
    submission.refresh_from_db()
    assert (submission.status, submission.reason) == ("rejected", "Expired ID")


def test_kyc_document_is_served_to_staff_only(admin_client, client):
    # given
    submission = KycSubmissionFactory()
    url = f"/admin/accounts/kycsubmission/{submission.pk}/document/"
    client.force_login(UserFactory())
    # when
    staff = admin_client.get(url)
    other = client.get(url)
    # then
    assert staff.status_code == 200
    assert b"".join(staff.streaming_content).startswith(b"%PDF")
    assert other.status_code == 302  # to the admin login


def test_audit_log_is_read_only_in_the_admin(admin_client):
    # given
    event = AuditEvent.objects.create(event="sign_in", detail={})
    # when
    add = admin_client.get("/admin/accounts/auditevent/add/")
    change = admin_client.post(
        f"/admin/accounts/auditevent/{event.pk}/change/", {"event": "logout"}
    )
    listing = admin_client.get("/admin/accounts/auditevent/")
    # then
    assert add.status_code == 403
    assert change.status_code == 403
    assert listing.status_code == 200
    event.refresh_from_db()
    assert event.event == "sign_in"
