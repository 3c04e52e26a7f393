"""Reads of the accounts app that other code (pages, API, the swaps app) may use."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import AuditEvent, KycSubmission, User, Wallet


def kyc_limit_usd(user: User) -> Decimal:
    """The largest swap value in USD that ``user``'s KYC level allows (``KYC_LIMITS_USD``).

    An unknown level (or an inactive user) gets the ``none`` limit; a level
    missing from the setting counts as zero, so a misconfiguration never widens a limit.
    """
    limits = settings.KYC_LIMITS_USD
    level = user.kyc_level if user.is_active else User.KycLevel.NONE
    return Decimal(limits.get(level, limits.get(User.KycLevel.NONE, 0)))


def wallet_list(*, user: User) -> QuerySet[Wallet]:
    """``user``'s linked wallets, oldest first."""
    return Wallet.objects.filter(user=user).order_by("created_at", "pk")


def wallet_owner_get(address: str) -> User | None:
    """The user an address is linked to (any letter case), or None."""
    wallet = Wallet.objects.select_related("user").filter(address__iexact=address).first()
    return wallet.user if wallet else None


def kyc_submission_list(*, user: User) -> QuerySet[KycSubmission]:
    """``user``'s KYC submissions, newest first."""
    return KycSubmission.objects.filter(user=user).order_by("-created_at", "-pk")


def audit_event_list(*, user: User) -> QuerySet[AuditEvent]:
    """``user``'s security events, newest first."""
    return AuditEvent.objects.filter(user=user).order_by("-created_at", "-pk")
