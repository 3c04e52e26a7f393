"""Deployment checks (``manage.py check --deploy``) for what core serves: mail and /metrics."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

# Backends that never deliver mail: password-reset links would end up in a log or nowhere.
UNDELIVERED_MAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
METRICS_TOKEN_MIN_LENGTH = 16


@register(Tags.security, deploy=True)
def check_mail_and_metrics(app_configs=None, **kwargs) -> list[CheckMessage]:
    """E-mail must really be sent (EMAIL_URL) and /metrics must need a token (METRICS_TOKEN)."""
    problems: list[CheckMessage] = []
    if settings.EMAIL_BACKEND in UNDELIVERED_MAIL_BACKENDS:
        problems.append(
            Error(
                "E-mail is not delivered (console or test backend): sign-up confirmations and "
                "password-reset links would be written to the logs.",
                hint="Set EMAIL_URL to smtp://user:pass@host:port or smtp+tls://...",
                id="core.E001",
            )
        )
    if len(settings.METRICS_TOKEN or "") < METRICS_TOKEN_MIN_LENGTH:
        problems.append(
            Error(
                f"METRICS_TOKEN is unset or shorter than {METRICS_TOKEN_MIN_LENGTH} characters.",
                hint="Set METRICS_TOKEN to a long random value and give it to the scraper.",
                id="core.E002",
            )
        )
    return problems
