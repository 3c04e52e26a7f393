"""Deployment checks (``manage.py check --deploy``) for sign-in: the JWT key and staff 2FA."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

# HS256 keys shorter than the hash output (32 bytes) weaken it (RFC 7518, section 3.2).
JWT_KEY_MIN_BYTES = 32


@register(Tags.security, deploy=True)
def check_sign_in(app_configs=None, **kwargs) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    key = settings.SIMPLE_JWT.get("SIGNING_KEY") or ""
    if len(str(key).encode()) < JWT_KEY_MIN_BYTES:
        problems.append(
            Error(
                f"The JWT signing key is shorter than {JWT_KEY_MIN_BYTES} bytes.",
                hint="Set JWT_SIGNING_KEY (or SECRET_KEY) to at least 32 random bytes.",
                id="accounts.E001",
            )
        )
    if not settings.STAFF_MFA_REQUIRED:
        problems.append(
            Warning(
                "Staff can enter the admin without two-factor authentication.",
                hint="Leave STAFF_MFA_REQUIRED on (its production default).",
                id="accounts.W001",
            )
        )
    return problems
