"""Wallet self-service: unlink an address, choose the default one."""

from __future__ import annotations

from django.db import transaction

from accounts import errors
from accounts.models import AuditEvent, User, Wallet
from accounts.selectors import sign_in_method_count
from accounts.services.audit import audit_record


def _owned(*, user: User, address: str) -> Wallet:
    wallet = Wallet.objects.filter(user=user, address__iexact=address.strip()).first()
    if wallet is None:
        raise errors.refuse(errors.WALLET_NOT_FOUND)
    return wallet


def wallet_unlink(*, user: User, address: str, ip: str | None = None) -> None:
    """Remove ``address`` (any letter case) from ``user``'s linked wallets.

    Locks the user row first, so two unlinks at once cannot both pass the last-method
    check. If the removed wallet was the default, the oldest remaining one becomes first
    (none is marked default).
    Side effects: deletes the wallet; audit ``wallet_unlinked``.
    Raises ``wallet_not_found`` (404) when the address is not ``user``'s, and
    ``last_sign_in_method`` (409) when it is the only way left to sign in.
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()
        wallet = _owned(user=user, address=address)
        if sign_in_method_count(user=user) <= 1:
            raise errors.refuse(errors.LAST_SIGN_IN_METHOD)
        wallet.delete()
        audit_record(
            event=AuditEvent.Kind.WALLET_UNLINKED,
            user=user,
            ip=ip,
            detail={"address": wallet.address},
        )


def wallet_default_set(*, user: User, address: str) -> Wallet:
    """Make ``address`` ``user``'s default wallet (and no other).

    Locks the user row so two changes at once keep at most one default (a constraint
    holds that too). Setting the current default again changes nothing.
    Raises ``wallet_not_found`` (404) when the address is not ``user``'s.
    """
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).get()
        wallet = _owned(user=user, address=address)
        if not wallet.is_default:
            Wallet.objects.filter(user=user, is_default=True).update(is_default=False)
            Wallet.objects.filter(pk=wallet.pk).update(is_default=True)
            wallet.is_default = True
    return wallet
