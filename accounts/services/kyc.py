"""Know-your-customer: document submission and the staff decision."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from rest_framework import status

from accounts.models import AuditEvent, KycSubmission, User
from accounts.services.audit import audit_record
from core.api.errors import ApiError

_KYC_CONTENT = {
    b"%PDF": "application/pdf",
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


def kyc_submit(
    *, user: User, level: str, document: UploadedFile, ip: str | None = None
) -> KycSubmission:
    """Store a KYC document (privately) asking for ``level`` (``basic`` or ``verified``).

    Raises ``ApiError`` ``invalid_level``, ``file_too_large``,
    ``invalid_document`` (not a PDF, PNG or JPEG) or ``kyc_pending`` (409, one
    submission is already waiting for review).
    Side effects: writes the file to the private KYC storage; audit ``kyc_submitted``.
    """
    if level not in (User.KycLevel.BASIC, User.KycLevel.VERIFIED):
        raise ApiError("Choose the basic or verified level.", "invalid_level")
    if document.size is None or document.size > settings.KYC_DOCUMENT_MAX_BYTES:
        raise ApiError("The document is too large.", "file_too_large")
    head = document.read(8)
    document.seek(0)
    if not any(head.startswith(magic) for magic in _KYC_CONTENT):
        raise ApiError("Send a PDF, PNG or JPEG document.", "invalid_document")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.kyc_submissions.filter(status=KycSubmission.Status.PENDING).exists():
            raise ApiError(
                "A document is already waiting for review.", "kyc_pending", status.HTTP_409_CONFLICT
            )
        submission = KycSubmission.objects.create(user=user, level=level, document=document)
        audit_record(event=AuditEvent.Kind.KYC_SUBMITTED, user=user, ip=ip, detail={"level": level})
    return submission


def kyc_decide(
    *, submission: KycSubmission, reviewer: User, approve: bool, reason: str = ""
) -> KycSubmission:
    """Approve (raising the user's level to the submission's) or reject with a reason.

    Preconditions: ``reviewer`` is staff. Locks the submission row.
    Raises ``ApiError`` ``kyc_not_pending`` (409) when it was already decided,
    ``reason_required`` when rejecting without a reason.
    Side effects: audit ``kyc_decision``.
    """
    reason = reason.strip()
    if not approve and not reason:
        raise ApiError("Give the user a reason for the rejection.", "reason_required")
    with transaction.atomic():
        locked = KycSubmission.objects.select_for_update().get(pk=submission.pk)
        if not locked.can_review():
            raise ApiError(
                "This submission was already decided.", "kyc_not_pending", status.HTTP_409_CONFLICT
            )
        locked.status = KycSubmission.Status.APPROVED if approve else KycSubmission.Status.REJECTED
        locked.reason = reason
        locked.reviewed_by = reviewer
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["status", "reason", "reviewed_by", "reviewed_at"])
        if approve:
            User.objects.filter(pk=locked.user_id).update(kyc_level=locked.level)
        audit_record(
            event=AuditEvent.Kind.KYC_DECISION,
            user=locked.user,
            detail={
                "submission": locked.pk,
                "decision": locked.status,
                "level": locked.level,
                "reviewer": reviewer.pk,
                "reason": reason,
            },
        )
    return locked
