"""Reads of the accounts app that other code (pages, API, the swaps app) may use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import AuditEvent, KycSubmission, Reputation, User, Wallet
from chains.balances import ICP_CHAIN_ID, Balance, principal_balances, wallet_balances


def kyc_limit_usd(user: User) -> Decimal:
    """The largest swap value in USD that ``user``'s KYC level allows (``KYC_LIMITS_USD``).

    An unknown level (or an inactive user) gets the ``none`` limit; a level
    missing from the setting counts as zero, so a misconfiguration never widens a limit.
    """
    limits = settings.KYC_LIMITS_USD
    level = user.kyc_level if user.is_active else User.KycLevel.NONE
    return Decimal(limits.get(level, limits.get(User.KycLevel.NONE, 0)))


def wallet_list(*, user: User) -> QuerySet[Wallet]:
    """``user``'s linked wallets: the default one first (so forms that pick the first
    address pick it), then oldest first."""
    return Wallet.objects.filter(user=user).order_by("-is_default", "created_at", "pk")


def sign_in_method_count(*, user: User) -> int:
    """How many independent ways ``user`` can sign in: each linked wallet (SIWE), a
    proven ICP principal (Internet Identity), and a usable password with a verified
    e-mail address (``ACCOUNT_EMAIL_VERIFICATION`` is mandatory, so an unverified address
    cannot sign in)."""
    from allauth.account.models import EmailAddress

    count = Wallet.objects.filter(user=user).count()
    if user.icp_principal and user.icp_principal_proven_at is not None:
        count += 1
    if (
        user.has_usable_password()
        and EmailAddress.objects.filter(user=user, verified=True).exists()
    ):
        count += 1
    return count


def wallet_owner_get(address: str) -> User | None:
    """The user an address is linked to (any letter case), or None."""
    wallet = Wallet.objects.select_related("user").filter(address__iexact=address).first()
    return wallet.user if wallet else None


@dataclass(frozen=True)
class PrincipalEntry:
    """A user's proven ICP principal, listed beside the EVM wallets with the same fields:
    ``address`` the principal, ``chain_id`` 0 (the IC has none), ``created_at`` when it was
    proven with Internet Identity."""

    address: str
    chain_id: int
    created_at: datetime
    # A principal is never the default: offers and swaps on EVM networks need an address.
    is_default: bool = False


def icp_principal_entry(*, user: User) -> PrincipalEntry | None:
    """``user``'s principal if it was proven with Internet Identity, else None (a principal
    typed in before proof was required is only a claim). No query."""
    if not user.icp_principal or user.icp_principal_proven_at is None:
        return None
    return PrincipalEntry(user.icp_principal, ICP_CHAIN_ID, user.icp_principal_proven_at)


def icp_balance_list(*, user: User) -> list[Balance]:
    """What ``user``'s proven ICP principal holds of ICP and each ``ICP_TOKENS`` token
    (``chains.balances.principal_balances``: verified, cached, ``unavailable`` rows when
    the IC cannot be reached); empty without a proven principal. No query."""
    entry = icp_principal_entry(user=user)
    return principal_balances([entry.address]) if entry else []


def wallet_and_principal_list(*, user: User) -> list[Wallet | PrincipalEntry]:
    """``user``'s linked wallets, oldest first, then the proven ICP principal if any."""
    entry = icp_principal_entry(user=user)
    return [*wallet_list(user=user), *([entry] if entry else [])]


def wallet_balance_map(*, wallets: Iterable[Wallet | PrincipalEntry]) -> dict[str, list[Balance]]:
    """Each wallet's balance of every configured asset, keyed by its address (lower case).

    Reads through ``chains.balances.wallet_balances`` (cached for
    ``WALLET_BALANCE_CACHE_SECONDS`` per set of addresses), and for ICP principals through
    ``chains.balances.principal_balances`` (ICP and ``ICP_TOKENS``, verified, cached alike).
    A wallet on a network that cannot be reached gets rows with ``status="unavailable"``;
    this never raises for it. A wallet without any configured asset maps to an empty list.
    """
    items = list(wallets)
    addresses = [w.address for w in items if isinstance(w, Wallet)]
    principals = [w.address for w in items if isinstance(w, PrincipalEntry)]
    found: dict[str, list[Balance]] = {a.lower(): [] for a in [*addresses, *principals]}
    for balance in wallet_balances(addresses):
        found[balance.address.lower()].append(balance)
    for balance in principal_balances(principals) if principals else []:
        found[balance.address.lower()].append(balance)
    return found


@dataclass(frozen=True)
class ReputationSummary:
    """A user's track record as shown on the profile and in the API."""

    completed_swaps: int
    volume_usd: Decimal
    refunded_swaps: int
    disputes_opened: int
    disputes_lost: int
    member_since: datetime
    failed_swaps: int = 0
    abandoned_swaps: int = 0


def reputation_get(*, user: User) -> ReputationSummary:
    """``user``'s reputation (written by the swaps app), zeros when there is none yet.

    ``member_since`` is ``user.date_joined``. One query.
    """
    row = Reputation.objects.filter(user=user).first()
    if row is None:
        return ReputationSummary(0, Decimal("0.00"), 0, 0, 0, user.date_joined)
    return ReputationSummary(
        completed_swaps=row.completed_swaps,
        volume_usd=Decimal(row.volume_usd),
        refunded_swaps=row.refunded_swaps,
        disputes_opened=row.disputes_opened,
        disputes_lost=row.disputes_lost,
        member_since=user.date_joined,
        failed_swaps=row.failed_swaps,
        abandoned_swaps=row.abandoned_swaps,
    )


@dataclass(frozen=True)
class PublicReputation:
    """What anyone may see of a maker: on every listing and their public profile."""

    completed_swaps: int
    failed_swaps: int
    volume_usd: Decimal
    member_since: datetime
    kyc_level: str


def public_reputation(user: User) -> PublicReputation:
    """`user`'s public summary. Reads ``user.reputation`` (join or prefetch it for lists)."""
    row = getattr(user, "reputation", None) if _has_reputation(user) else None
    return PublicReputation(
        completed_swaps=row.completed_swaps if row else 0,
        failed_swaps=row.failed_swaps if row else 0,
        volume_usd=Decimal(row.volume_usd) if row else Decimal("0.00"),
        member_since=user.date_joined,
        kyc_level=user.kyc_level,
    )


def _has_reputation(user: User) -> bool:
    try:
        user.reputation  # noqa: B018 (a reverse one-to-one raises when there is no row)
    except Reputation.DoesNotExist:
        return False
    return True


def suspended_until(user: User) -> datetime | None:
    """When `user`'s suspension for faults ends, or None when they are not suspended now."""
    return (
        Reputation.objects.filter(user=user, suspended_until__gt=timezone.now())
        .values_list("suspended_until", flat=True)
        .first()
    )


def kyc_submission_list(*, user: User) -> QuerySet[KycSubmission]:
    """``user``'s KYC submissions, newest first."""
    return KycSubmission.objects.filter(user=user).order_by("-created_at", "-pk")


def audit_event_list(*, user: User) -> QuerySet[AuditEvent]:
    """``user``'s security events, newest first."""
    return AuditEvent.objects.filter(user=user).order_by("-created_at", "-pk")
