"""The security audit trail: one append-only row per event."""

from __future__ import annotations

from accounts.models import AuditEvent, User


def audit_record(
    *,
    event: str,
    user: User | None = None,
    ip: str | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one security event.

    ``detail`` must hold no secrets (no tokens, signatures, passwords or
    documents): codes, addresses, levels and reasons only.
    Side effects: one INSERT (joins the caller's transaction, if any).
    """
    return AuditEvent.objects.create(event=event, user=user, ip=ip or None, detail=detail or {})
