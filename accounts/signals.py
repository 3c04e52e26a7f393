"""Audit rows for Django's sign-in signals (allauth's e-mail sign-in and SIWE both log in),
and the profile's language applied on sign-in."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts import language, lockout, services
from accounts.models import AuditEvent
from core.client_ip import client_ip


@receiver(user_logged_in, dispatch_uid="accounts.audit.sign_in")
def _on_login(sender, request, user, **kwargs) -> None:
    method = getattr(request, "sign_in_method", "password")
    lockout.clear_account(user.email)
    lockout.clear_account(user.username)
    if request is not None:
        language.apply_on_sign_in(request, user.preferred_language)
    services.audit_record(
        event=AuditEvent.Kind.SIGN_IN, user=user, ip=client_ip(request), detail={"method": method}
    )


@receiver(user_logged_out, dispatch_uid="accounts.audit.logout")
def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None and user.is_authenticated:
        services.audit_record(
            event=AuditEvent.Kind.LOGOUT, user=user, ip=client_ip(request), detail={}
        )


@receiver(user_login_failed, dispatch_uid="accounts.audit.sign_in_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    lockout.record_failure(ip=client_ip(request), identifier=_identifier(credentials))
    # The credentials are never stored, not even the (sanitised) e-mail.
    services.audit_record(
        event=AuditEvent.Kind.SIGN_IN_FAILED,
        ip=client_ip(request),
        detail={"method": "password", "code": "invalid_credentials"},
    )


def _identifier(credentials: dict) -> str | None:
    """The account a failed attempt named (allauth passes ``email`` or ``username``)."""
    value = credentials.get("email") or credentials.get("username") or credentials.get("login")
    return value if isinstance(value, str) else None
