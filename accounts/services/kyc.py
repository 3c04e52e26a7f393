"""Know-your-customer: document submission and the staff decision."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError
from rest_framework import status

from accounts.models import AuditEvent, KycSubmission, User
from accounts.services.audit import audit_record
from core.api.errors import ApiError

# What a document may be, told by its first bytes: the stored extension and the content type
# it is served with come from here, never from the uploader's file name.
KYC_DOCUMENT_KINDS = {
    b"%PDF-": (".pdf", "application/pdf"),
    b"\x89PNG\r\n\x1a\n": (".png", "image/png"),
    b"\xff\xd8\xff": (".jpg", "image/jpeg"),
}
KYC_CONTENT_TYPES = {ext: content_type for ext, content_type in KYC_DOCUMENT_KINDS.values()}


def _document_kind(document: UploadedFile) -> tuple[str, str] | None:
    """(extension, content type) verified from the content, or None when it is none of ours.

    Images must also decode their header with Pillow (and stay under the pixel cap)."""
    head = document.read(8)
    document.seek(0)
    kind = next((k for magic, k in KYC_DOCUMENT_KINDS.items() if head.startswith(magic)), None)
    if kind is None or kind[0] == ".pdf":
        return kind
    try:
        with Image.open(document, formats=("PNG", "JPEG")) as probe:
            if probe.width * probe.height > settings.UPLOAD_IMAGE_MAX_PIXELS:
                return None
            probe.verify()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        document.seek(0)
    return kind


def kyc_submit(
    *, user: User, level: str, document: UploadedFile, ip: str | None = None
) -> KycSubmission:
    """Store a KYC document (privately) asking for ``level`` (``basic`` or ``verified``).

    The file is stored under a random name whose extension is derived from its verified
    content (PDF header; PNG or JPEG that Pillow can read), whatever it was called.
    Raises ``ApiError`` ``invalid_level``, ``file_too_large``,
    ``invalid_document`` (not a PDF, PNG or JPEG) or ``kyc_pending`` (409, one
    submission is already waiting for review).
    Side effects: writes the file to the private KYC storage; audit ``kyc_submitted``.
    """
    if level not in (User.KycLevel.BASIC, User.KycLevel.VERIFIED):
        raise ApiError("Choose the basic or verified level.", "invalid_level")
    if document.size is None or document.size > settings.KYC_DOCUMENT_MAX_BYTES:
        raise ApiError("The document is too large.", "file_too_large")
    kind = _document_kind(document)
    if kind is None:
        raise ApiError("Send a PDF, PNG or JPEG document.", "invalid_document")
    document.name = f"document{kind[0]}"  # the stored extension follows the content
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
