"""Internet Identity: sign in with a principal, or link one, by proving it.

The browser signs in with Internet Identity (II) and holds a session key with a delegation
chain from the user's principal to it. It asks for a nonce here, signs the challenge
(``ii_challenge``) with the session key and sends the chain and the signature.
``chains.icp.verify_principal_proof`` checks the chain (II's canister signature through
the certificate path against ``ICP_ROOT_KEY``, the later delegations, expiry, targets) and
the signature; this module checks the nonce (single use, ``II_NONCE_TTL_SECONDS``, bound
to its purpose and, for linking, to the user) and writes.

A principal typed in before proof was required is a *claim* (``icp_principal_proven_at``
is null): it is never signed in to, shows no balances, and a proof by another account
takes the principal over.

Settings (read with these defaults until they are in ``config/settings``):
``II_PROVIDER_URL`` (the window the browser opens), ``II_CANISTER_ID`` (the canister whose
signatures are accepted), ``II_NONCE_TTL_SECONDS``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.language import active_language
from accounts.models import AuditEvent, IiNonce, User
from accounts.services.audit import audit_record
from accounts.services.profile import user_terms_accept
from chains import icp
from core.api.refusals import Refusal

# What the session key signs: this domain separator (its length, then its name, as the IC
# separates its own signed payloads), the site's URL, a newline and the nonce. It can be
# mistaken neither for an IC request ("\x0aic-request") nor for a delegation.
PROOF_DOMAIN = b"\x10p2pswap-ii-proof"
METHOD = "internet_identity"


def ii_provider_url() -> str:
    """The Internet Identity window the browser opens (``II_PROVIDER_URL``)."""
    return str(settings.II_PROVIDER_URL)


def ii_canister_id() -> str:
    """The canister whose canister signatures prove a principal (``II_CANISTER_ID``)."""
    return str(settings.II_CANISTER_ID)


def ii_challenge(nonce: str) -> bytes:
    """The bytes the session key signs for ``nonce``."""
    return PROOF_DOMAIN + settings.SITE_URL.encode() + b"\n" + nonce.encode()


# --------------------------------------------------------------------------- refusals

NONCE_UNKNOWN = Refusal("nonce_unknown", _("This nonce was not issued here."), 401)
NONCE_USED = Refusal("nonce_used", _("This nonce has already been used."), 401)
NONCE_EXPIRED = Refusal("nonce_expired", _("The nonce has expired; ask for a new one."), 401)
NONCE_MISMATCH = Refusal(
    "nonce_mismatch", _("The nonce was issued for another purpose or account."), 401
)
DELEGATION_MALFORMED = Refusal(
    "delegation_malformed", _("The delegation chain or signature is malformed."), 400
)
DELEGATION_EXPIRED = Refusal(
    "delegation_expired", _("The Internet Identity delegation has expired; sign in again."), 401
)
DELEGATION_TARGETS = Refusal(
    "delegation_targets",
    _("The delegation is restricted to some canisters and does not cover this site."),
    401,
)
DELEGATION_SIGNATURE_INVALID = Refusal(
    "delegation_signature_invalid", _("A delegation in the chain is not validly signed."), 401
)
CANISTER_SIGNATURE_INVALID = Refusal(
    "canister_signature_invalid",
    _("Internet Identity's signature on the delegation does not verify."),
    401,
)
NOT_INTERNET_IDENTITY = Refusal(
    "not_internet_identity", _("The delegation was not issued by Internet Identity."), 401
)
SIGNATURE_INVALID = Refusal(
    "signature_invalid", _("The challenge was not signed by the delegated session key."), 401
)
TERMS_NOT_ACCEPTED = Refusal(
    "terms_not_accepted", _("Accept the terms of service to create an account."), 400
)
PRINCIPAL_TAKEN = Refusal("principal_taken", _("This principal is linked to another account."), 409)
ACCOUNT_DISABLED = Refusal("account_disabled", _("This account is disabled."), 403)
PROOF_REQUIRED = Refusal(
    "proof_required",
    _(
        "A principal is linked only with proof: sign in with Internet Identity and send "
        "the nonce, the delegation chain and the session key's signature."
    ),
    400,
)
NONCE_REFUSALS = (NONCE_UNKNOWN, NONCE_USED, NONCE_EXPIRED, NONCE_MISMATCH)
PROOF_REFUSALS = (
    DELEGATION_MALFORMED,
    DELEGATION_EXPIRED,
    DELEGATION_TARGETS,
    DELEGATION_SIGNATURE_INVALID,
    CANISTER_SIGNATURE_INVALID,
    NOT_INTERNET_IDENTITY,
    SIGNATURE_INVALID,
)
_BY_CHAIN_CODE = {
    "delegation_malformed": DELEGATION_MALFORMED,
    "delegation_expired": DELEGATION_EXPIRED,
    "delegation_targets": DELEGATION_TARGETS,
    "delegation_signature_invalid": DELEGATION_SIGNATURE_INVALID,
    "canister_signature_invalid": CANISTER_SIGNATURE_INVALID,
    "not_internet_identity": NOT_INTERNET_IDENTITY,
    "session_signature_invalid": SIGNATURE_INVALID,
}


class _Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


# --------------------------------------------------------------------------- nonces


def ii_nonce_issue(*, purpose: str, user: User | None = None) -> tuple[IiNonce, bytes]:
    """Issue a single-use nonce and the challenge its session key must sign.

    ``purpose`` is ``IiNonce.Purpose.SIGN_IN`` or ``LINK``; a link nonce is bound to
    ``user`` (required then). Valid for ``II_NONCE_TTL_SECONDS``.
    Side effects: stores the nonce. Raises ``ValueError`` for a bad purpose or a link
    nonce without a user.
    """
    if purpose not in IiNonce.Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    if purpose == IiNonce.Purpose.LINK and user is None:
        raise ValueError("a link nonce is bound to a user")
    now = timezone.now()
    ttl = int(settings.II_NONCE_TTL_SECONDS)
    nonce = IiNonce.objects.create(
        nonce=secrets.token_hex(16),
        purpose=purpose,
        user=user if purpose == IiNonce.Purpose.LINK else None,
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    return nonce, ii_challenge(nonce.nonce)


def ii_nonces_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete nonces that expired more than ``older_than`` ago; returns how many."""
    deleted, _ = IiNonce.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted


def _nonce_check(nonce: str, purpose: str, user: User | None) -> IiNonce:
    stored = IiNonce.objects.filter(nonce=nonce).first() if isinstance(nonce, str) else None
    if stored is None:
        raise _Refused(NONCE_UNKNOWN)
    if stored.used_at is not None:
        raise _Refused(NONCE_USED)
    if timezone.now() >= stored.expires_at:
        raise _Refused(NONCE_EXPIRED)
    if stored.purpose != purpose or (user is not None and stored.user_id != user.pk):
        raise _Refused(NONCE_MISMATCH)
    return stored


def _nonce_consume(stored: IiNonce) -> None:
    """Mark ``stored`` used only if it still is unused: of two racing callers one wins."""
    won = IiNonce.objects.filter(pk=stored.pk, used_at__isnull=True).update(used_at=timezone.now())
    if not won:
        raise NONCE_USED.error()


# --------------------------------------------------------------------------- proof


def _proof_check(delegation_chain: Any, signature: str, nonce: str) -> icp.ProvenPrincipal:
    try:
        raw_signature = bytes.fromhex(signature.removeprefix("0x"))
    except (AttributeError, ValueError):
        raise _Refused(DELEGATION_MALFORMED) from None
    try:
        chain = icp.delegation_chain_from_json(delegation_chain)
        return icp.verify_principal_proof(
            chain=chain,
            message=ii_challenge(nonce),
            signature=raw_signature,
            identity_canister_id=ii_canister_id(),
        )
    except icp.IcpIdentityInvalid as exc:
        raise _Refused(_BY_CHAIN_CODE.get(exc.code, DELEGATION_MALFORMED)) from exc


def _ii_verified(
    *,
    purpose: str,
    user: User | None,
    nonce: str,
    delegation_chain: Any,
    signature: str,
    ip: str | None,
) -> tuple[icp.ProvenPrincipal, IiNonce]:
    """Every check but consuming the nonce; on refusal audit it and raise ``ApiError``."""
    try:
        stored = _nonce_check(nonce, purpose, user)
        proven = _proof_check(delegation_chain, signature, stored.nonce)
    except _Refused as refused:
        _audit_failure(user=user, ip=ip, purpose=purpose, code=refused.refusal.code)
        raise refused.refusal.error() from None
    return proven, stored


def _audit_failure(*, user: User | None, ip: str | None, purpose: str, code: str) -> None:
    audit_record(
        event=AuditEvent.Kind.SIGN_IN_FAILED,
        user=user,
        ip=ip,
        detail={"method": METHOD, "purpose": purpose, "code": code},
    )


def _proven_owner(principal: str) -> User | None:
    return User.objects.filter(
        icp_principal=principal, icp_principal_proven_at__isnull=False
    ).first()


def _claims_release(principal: str, *, keep: User | None = None) -> list[int]:
    """Take ``principal`` away from accounts that only claimed it (typed, never proven)."""
    claims = User.objects.filter(icp_principal=principal, icp_principal_proven_at__isnull=True)
    if keep is not None:
        claims = claims.exclude(pk=keep.pk)
    ids = sorted(claims.values_list("pk", flat=True))
    User.objects.filter(pk__in=ids).update(icp_principal="")
    return ids


def _username_for(principal: str) -> str:
    base = f"ii-{principal[:11]}"
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _account_create(*, principal: str, ip: str | None) -> User:
    """A new account owning ``principal``, its terms accepted now (caller's transaction)."""
    released = _claims_release(principal)
    user = User.objects.create_user(
        username=_username_for(principal), preferred_language=active_language()
    )
    user.set_unusable_password()
    user.icp_principal = principal
    user.icp_principal_proven_at = timezone.now()
    user.save(update_fields=["password", "icp_principal", "icp_principal_proven_at"])
    user_terms_accept(user=user)
    detail: dict[str, Any] = {"method": METHOD, "principal": principal}
    if released:
        detail["claims_removed_from"] = released
    audit_record(event=AuditEvent.Kind.SIGN_UP, user=user, ip=ip, detail=detail)
    return user


def ii_sign_in(
    *,
    nonce: str,
    delegation_chain: Any,
    signature: str,
    accept_terms: bool = False,
    ip: str | None = None,
) -> User:
    """Sign in with a proven principal: the account that proved it, created on first use.

    Checks the nonce (issued for sign-in, unused, unexpired) and the proof
    (``chains.icp.verify_principal_proof`` against ``ICP_ROOT_KEY`` and ``II_CANISTER_ID``).
    A principal no account has proven creates an account, only with ``accept_terms``
    (its terms are recorded with ``user_terms_accept``); an account that merely claimed the
    principal loses the claim. The nonce is consumed with a conditional update, so one
    proof signs in at most once, even under concurrency.

    Side effects: consumes the nonce; may create a user; audit ``sign_up`` (``sign_in`` is
    written by the login signal when the view opens the session), ``sign_in_failed`` on refusal.
    Raises ``ApiError``: the nonce and proof refusals above, ``terms_not_accepted`` (400,
    nonce kept), ``account_disabled`` (403).
    """
    proven, stored = _ii_verified(
        purpose=IiNonce.Purpose.SIGN_IN,
        user=None,
        nonce=nonce,
        delegation_chain=delegation_chain,
        signature=signature,
        ip=ip,
    )
    principal = proven.principal
    owner = _proven_owner(principal)
    if owner is None and not accept_terms:
        _audit_failure(user=None, ip=ip, purpose=stored.purpose, code=TERMS_NOT_ACCEPTED.code)
        raise TERMS_NOT_ACCEPTED.error()
    with transaction.atomic():
        _nonce_consume(stored)
        if owner is None:
            try:
                with transaction.atomic():
                    owner = _account_create(principal=principal, ip=ip)
            except IntegrityError:
                # Another sign-in proved this principal a moment ago: use its account.
                owner = User.objects.get(icp_principal=principal)
    if not owner.is_active:
        raise ACCOUNT_DISABLED.error()
    return owner


def ii_principal_link(
    *, user: User, nonce: str, delegation_chain: Any, signature: str, ip: str | None = None
) -> User:
    """Link the principal a proof stands for to ``user`` (signed in), replacing any other.

    Same proof as :func:`ii_sign_in`, with a nonce issued to ``user`` for linking. Proving
    the principal ``user`` already has refreshes its proof time. Accounts that only claimed
    the principal (typed in, never proven) lose it. Locks ``user``'s row.

    Side effects: consumes the nonce; sets ``icp_principal`` and ``icp_principal_proven_at``;
    audit ``icp_linked`` (``sign_in_failed`` on refusal).
    Raises ``ApiError``: the nonce and proof refusals, ``principal_taken`` (409: another
    account proved it; the nonce is then not consumed).
    """
    proven, stored = _ii_verified(
        purpose=IiNonce.Purpose.LINK,
        user=user,
        nonce=nonce,
        delegation_chain=delegation_chain,
        signature=signature,
        ip=ip,
    )
    principal = proven.principal
    try:
        with transaction.atomic():
            _nonce_consume(stored)
            locked = User.objects.select_for_update().get(pk=user.pk)
            owner = _proven_owner(principal)
            if owner is not None and owner.pk != locked.pk:
                raise PRINCIPAL_TAKEN.error()
            released = _claims_release(principal, keep=locked)
            locked.icp_principal = principal
            locked.icp_principal_proven_at = timezone.now()
            locked.save(update_fields=["icp_principal", "icp_principal_proven_at"])
            detail: dict[str, Any] = {"method": METHOD, "principal": principal}
            if released:
                detail["claims_removed_from"] = released
            audit_record(event=AuditEvent.Kind.ICP_LINKED, user=locked, ip=ip, detail=detail)
    except IntegrityError:
        raise PRINCIPAL_TAKEN.error() from None
    return locked
