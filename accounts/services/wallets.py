"""Addresses linked to an account by other means than a SIWE signature (ICP principal)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from rest_framework import status

from accounts.models import AuditEvent, User
from accounts.services.audit import audit_record
from chains.icp import principal_is_valid
from core.api.errors import ApiError


def icp_principal_link(*, user: User, principal: str, ip: str | None = None) -> User:
    """Link a textual ICP principal to ``user`` (canonical lower-case form).

    Raises ``ApiError`` ``invalid_principal`` (400, bad form or CRC-32) or
    ``principal_taken`` (409, another account has it).
    """
    text = (principal or "").strip().lower()
    if not principal_is_valid(text):
        raise ApiError("This is not a valid ICP principal.", "invalid_principal")
    taken = ApiError(
        "This principal is linked to another account.",
        "principal_taken",
        status.HTTP_409_CONFLICT,
    )
    if User.objects.filter(icp_principal=text).exclude(pk=user.pk).exists():
        raise taken
    try:
        with transaction.atomic():
            user.icp_principal = text
            user.save(update_fields=["icp_principal"])
            audit_record(
                event=AuditEvent.Kind.ICP_LINKED, user=user, ip=ip, detail={"principal": text}
            )
    except IntegrityError:
        raise taken from None
    return user
