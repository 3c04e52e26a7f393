"""Sign-In with Ethereum (EIP-4361): nonces, sign-in and linking a wallet by signature."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from accounts import siwe
from accounts.language import active_language
from accounts.models import AuditEvent, SiweNonce, User, Wallet
from accounts.services.audit import audit_record
from chains import selectors as chain_selectors
from chains import signatures
from chains.interface import ChainUnavailable
from core.api.errors import ApiError

UNAUTHORIZED = status.HTTP_401_UNAUTHORIZED


def _network_for(chain_id: int):
    return next((n for n in chain_selectors.network_list() if n.chain_id == chain_id), None)


def siwe_nonce_issue(*, address: str, chain_id: int) -> tuple[SiweNonce, str]:
    """Issue a single-use nonce for ``address`` on ``chain_id`` and the message to sign.

    Returns the stored nonce and the complete EIP-4361 message (domain and URI
    from ``settings.SITE_URL``), valid for ``SIWE_NONCE_TTL_SECONDS``.
    Raises ``ApiError`` ``invalid_address`` or ``chain_not_supported`` (400).
    """
    checksummed = signatures.checksum_address(address)
    if checksummed is None:
        raise ApiError("This is not an Ethereum address.", "invalid_address")
    if _network_for(chain_id) is None:
        raise ApiError("This chain is not supported here.", "chain_not_supported")
    issued_at = timezone.now().replace(microsecond=0)
    expires_at = issued_at + timedelta(seconds=settings.SIWE_NONCE_TTL_SECONDS)
    nonce = SiweNonce.objects.create(
        nonce=secrets.token_hex(16),
        address=checksummed,
        chain_id=chain_id,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    message = siwe.build_message(
        address=checksummed,
        chain_id=chain_id,
        nonce=nonce.nonce,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    return nonce, message


class _Refused(Exception):
    def __init__(self, detail: str, code: str, status_code: int = UNAUTHORIZED):
        super().__init__(detail)
        self.detail, self.code, self.status_code = detail, code, status_code


def _siwe_check(message: str, signature: str) -> tuple[siwe.ParsedMessage, SiweNonce]:
    """Every check except consuming the nonce; raises ``_Refused`` with a stable code."""
    try:
        parsed = siwe.parse_message(message)
    except siwe.MalformedMessage as exc:
        raise _Refused(
            "The message is not a valid EIP-4361 message.", "message_malformed", 400
        ) from exc
    if parsed.domain != siwe.site_domain():
        raise _Refused("The message was made for another site.", "domain_mismatch")
    if parsed.uri.rstrip("/") != siwe.site_uri():
        raise _Refused("The message names another URI.", "uri_mismatch")
    if parsed.version != "1":
        raise _Refused("Only version 1 of EIP-4361 is supported.", "message_malformed", 400)
    network = _network_for(parsed.chain_id)
    if network is None:
        raise _Refused("This chain is not supported here.", "chain_not_supported", 400)
    stored = SiweNonce.objects.filter(nonce=parsed.nonce).first()
    if stored is None:
        raise _Refused("This nonce was not issued here.", "nonce_unknown")
    if stored.used_at is not None:
        raise _Refused("This nonce has already been used.", "nonce_used")
    if stored.address.lower() != parsed.address.lower() or stored.chain_id != parsed.chain_id:
        raise _Refused("The nonce was issued for another address or chain.", "nonce_mismatch")
    now = timezone.now()
    expiry = min(filter(None, [stored.expires_at, parsed.expiration_time]))
    if now >= expiry:
        raise _Refused("The message has expired; ask for a new one.", "message_expired")
    if parsed.not_before is not None and now < parsed.not_before:
        raise _Refused("The message is not valid yet.", "message_not_yet_valid")
    try:
        valid = signatures.personal_signature_is_valid(
            network=network, address=parsed.address, message=message, signature=signature
        )
    except ChainUnavailable as exc:
        raise _Refused(
            "The chain cannot be reached to check a contract wallet; retry later.",
            "chain_unavailable",
            status.HTTP_503_SERVICE_UNAVAILABLE,
        ) from exc
    if not valid:
        raise _Refused("The signature was not made by this address.", "signature_invalid")
    return parsed, stored


def _siwe_consume(nonce: SiweNonce) -> None:
    """Mark ``nonce`` used, only if it still is unused: of two racing callers one wins."""
    won = SiweNonce.objects.filter(pk=nonce.pk, used_at__isnull=True).update(used_at=timezone.now())
    if not won:
        raise _Refused("This nonce has already been used.", "nonce_used")


def _siwe_verified(*, message: str, signature: str, ip: str | None) -> siwe.ParsedMessage:
    """Check and consume; on refusal, audit the failure (outside any transaction) and raise."""
    try:
        parsed, stored = _siwe_check(message, signature)
        with transaction.atomic():
            _siwe_consume(stored)
    except _Refused as refused:
        # Keyed by what was verified (the client IP); the address is only what the message
        # claims, so it is data, never a link to the account that owns it.
        audit_record(
            event=AuditEvent.Kind.SIGN_IN_FAILED,
            user=None,
            ip=ip,
            detail={
                "method": "siwe",
                "code": refused.code,
                "claimed_address": _address_in(message),
            },
        )
        raise ApiError(refused.detail, refused.code, refused.status_code) from None
    return parsed


def _address_in(message: str) -> str:
    """The address a SIWE message claims (its second line) when it is one, else ""."""
    lines = message.splitlines() if isinstance(message, str) else []
    claimed = lines[1].strip()[:42] if len(lines) > 1 else ""
    return signatures.checksum_address(claimed) or ""


def _username_for(address: str) -> str:
    base = address.lower()
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def siwe_sign_in(*, message: str, signature: str, ip: str | None = None) -> User:
    """Sign in with a signed SIWE message: the address's account, created on first use.

    Checks, in order: well-formed message, domain and URI equal to
    ``SITE_URL``, configured chain id, known, unused and unexpired nonce bound
    to this address and chain, and the signature (EIP-191, or EIP-1271 for
    contract wallets). The nonce is then consumed with a conditional update,
    so one nonce signs in at most once even under concurrency.

    Side effects: consumes the nonce; may create a user and wallet; writes
    an audit row (``sign_in_failed`` on refusal; ``sign_in`` is written by the
    login signal when the view opens the session).
    Raises ``ApiError`` with a stable code (see the API docs) on any refusal,
    ``account_disabled`` (403) for a deactivated account.
    """
    parsed = _siwe_verified(message=message, signature=signature, ip=ip)
    with transaction.atomic():
        wallet = Wallet.objects.select_related("user").filter(address__iexact=parsed.address)
        found = wallet.first()
        if found is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(
                        username=_username_for(parsed.address),
                        preferred_language=active_language(),
                    )
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                    Wallet.objects.create(
                        user=user, address=parsed.address, chain_id=parsed.chain_id
                    )
                    audit_record(
                        event=AuditEvent.Kind.SIGN_UP,
                        user=user,
                        ip=ip,
                        detail={"method": "siwe", "address": parsed.address},
                    )
            except IntegrityError:
                # Another sign-in created this address's account a moment ago: use it.
                found = wallet.get()
        if found is not None:
            user = found.user
    if not user.is_active:
        raise ApiError("This account is disabled.", "account_disabled", status.HTTP_403_FORBIDDEN)
    return user


def siwe_link(*, user: User, message: str, signature: str, ip: str | None = None) -> Wallet:
    """Link the address of a signed SIWE message to ``user`` (who is already signed in).

    Same checks as :func:`siwe_sign_in`. Linking an address already linked to
    ``user`` is a no-op that returns the existing wallet.
    Side effects: consumes the nonce; creates a wallet; audit ``wallet_linked``.
    Raises ``ApiError`` ``wallet_taken`` (409) when another account owns the address.
    """
    parsed = _siwe_verified(message=message, signature=signature, ip=ip)
    existing = Wallet.objects.filter(address__iexact=parsed.address).first()
    if existing is not None and existing.user_id == user.pk:
        return existing
    taken = ApiError(
        "This address is linked to another account.", "wallet_taken", status.HTTP_409_CONFLICT
    )
    if existing is not None:
        raise taken
    try:
        with transaction.atomic():
            wallet = Wallet.objects.create(
                user=user, address=parsed.address, chain_id=parsed.chain_id
            )
            audit_record(
                event=AuditEvent.Kind.WALLET_LINKED,
                user=user,
                ip=ip,
                detail={"address": parsed.address, "chain_id": parsed.chain_id},
            )
    except IntegrityError:
        raise taken from None
    return wallet


def siwe_nonces_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete nonces that expired more than ``older_than`` ago; returns how many."""
    deleted, _ = SiweNonce.objects.filter(expires_at__lt=timezone.now() - older_than).delete()
    return deleted
