"""Every write of the accounts app: sign-in (SIWE, JWT), profile, KYC, deletion, audit."""

from __future__ import annotations

import io
import logging
import secrets
from datetime import timedelta
from decimal import ROUND_HALF_UP, Context, Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import siwe
from accounts.models import AuditEvent, KycSubmission, Reputation, SiweNonce, User, Wallet
from chains import selectors as chain_selectors
from chains import signatures
from chains.evm import ChainUnavailable
from chains.icp import principal_is_valid
from core.api.errors import ApiError

logger = logging.getLogger(__name__)

UNAUTHORIZED = status.HTTP_401_UNAUTHORIZED


# --------------------------------------------------------------------------- audit


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


# ---------------------------------------------------------------------------- SIWE


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
        owner = Wallet.objects.filter(address__iexact=_address_in(message)).first()
        audit_record(
            event=AuditEvent.Kind.SIGN_IN_FAILED,
            user=owner.user if owner else None,
            ip=ip,
            detail={"method": "siwe", "code": refused.code},
        )
        raise ApiError(refused.detail, refused.code, refused.status_code) from None
    return parsed


def _address_in(message: str) -> str:
    """The second line of a SIWE message (its address), best effort, for the audit row."""
    lines = message.splitlines() if isinstance(message, str) else []
    return lines[1].strip()[:42] if len(lines) > 1 else ""


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
                    user = User.objects.create_user(username=_username_for(parsed.address))
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


# ----------------------------------------------------------------------------- JWT


def jwt_pair_issue(*, user: User) -> dict[str, str]:
    """A new access (``ACCESS_TOKEN_LIFETIME``) and refresh token pair for ``user``.

    Side effects: records the refresh token as outstanding (so it can be revoked).
    """
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


_TOKEN_INVALID = ("The refresh token is invalid, expired or revoked.", "token_not_valid")


def jwt_refresh(*, refresh: str) -> dict[str, str]:
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted.

    Raises ``ApiError`` ``token_not_valid`` (401) for an invalid, expired,
    already rotated or revoked token, or one whose user is no longer active.
    """
    serializer = TokenRefreshSerializer(data={"refresh": refresh})
    try:
        serializer.is_valid(raise_exception=True)
    except Exception as exc:  # TokenError, InvalidToken, AuthenticationFailed
        raise ApiError(*_TOKEN_INVALID, status_code=UNAUTHORIZED) from exc
    data = serializer.validated_data
    return {"access": str(data["access"]), "refresh": str(data["refresh"])}


def jwt_revoke(*, refresh: str) -> int | None:
    """Blacklist one refresh token; returns its user's id.

    Raises ``ApiError`` ``token_not_valid`` (401) when the token is not a valid refresh token.
    """
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
        token.blacklist()
    except TokenError as exc:
        raise ApiError(*_TOKEN_INVALID, status_code=UNAUTHORIZED) from exc
    user_id = token.get("user_id")
    return int(user_id) if user_id is not None else None


def jwt_revoke_all(*, user: User) -> int:
    """Blacklist every outstanding refresh token of ``user``; returns how many were added."""
    added = 0
    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    for token in pending.order_by("pk"):
        _, created = BlacklistedToken.objects.get_or_create(token=token)
        added += created
    return added


# ------------------------------------------------------------------------- profile


def user_terms_accept(*, user: User, version: str | None = None) -> User:
    """Record that ``user`` accepted the terms ``version`` (default ``TERMS_VERSION``), now."""
    user.terms_version = version or settings.TERMS_VERSION
    user.terms_accepted_at = timezone.now()
    user.save(update_fields=["terms_version", "terms_accepted_at"])
    return user


def profile_update(
    *,
    user: User,
    display_name: str | None = None,
    preferred_language: str | None = None,
) -> User:
    """Change the display name and/or preferred language (``en`` or ``bn``).

    Raises ``ApiError`` ``invalid_language`` for another language code.
    """
    fields = []
    if display_name is not None:
        user.display_name = display_name.strip()[:80]
        fields.append("display_name")
    if preferred_language is not None:
        if preferred_language not in User.Language.values:
            raise ApiError("This language is not offered.", "invalid_language")
        user.preferred_language = preferred_language
        fields.append("preferred_language")
    if fields:
        user.save(update_fields=fields)
    return user


AVATAR_SIZE = 256
_AVATAR_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


def avatar_set(*, user: User, upload: UploadedFile) -> User:
    """Replace ``user``'s avatar with ``upload`` re-encoded as a 256x256-max PNG.

    The image is decoded and drawn into a fresh image, so no metadata (EXIF,
    GPS, comments) and no trailing bytes of the upload survive.
    Raises ``ApiError`` ``file_too_large`` or ``invalid_image`` (400).
    """
    if upload.size is None or upload.size > settings.AVATAR_MAX_BYTES:
        raise ApiError("The image is too large.", "file_too_large")
    try:
        with Image.open(upload) as probe:
            if probe.format not in _AVATAR_FORMATS:
                raise ApiError("Use a JPEG, PNG, WebP or GIF image.", "invalid_image")
            if probe.width * probe.height > 40_000_000:
                raise ApiError("The image is too large.", "file_too_large")
            probe.load()
            image = probe.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ApiError("This file is not an image we can read.", "invalid_image") from exc
    image.thumbnail((AVATAR_SIZE, AVATAR_SIZE))
    clean = Image.new("RGBA", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    old = user.avatar.name if user.avatar else ""
    user.avatar.save("avatar.png", ContentFile(out.getvalue()), save=False)
    user.save(update_fields=["avatar"])
    if old:
        user.avatar.storage.delete(old)
    return user


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


# ----------------------------------------------------------------------------- KYC

_KYC_CONTENT = {
    b"%PDF": "application/pdf",
    b"\x89PNG": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


def kyc_submit(
    *, user: User, level: str, document: UploadedFile, ip: str | None = None
) -> KycSubmission:
    """Store a KYC document (privately) asking for ``level`` (``basic`` or ``verified``).

    Raises ``ApiError`` ``invalid_level``, ``file_too_large``,
    ``invalid_document`` (not a PDF, PNG or JPEG) or ``kyc_pending`` (409, one
    submission is already waiting for review).
    Side effects: writes the file to the private KYC storage; audit ``kyc_submitted``.
    """
    if level not in (User.KycLevel.BASIC, User.KycLevel.VERIFIED):
        raise ApiError("Choose the basic or verified level.", "invalid_level")
    if document.size is None or document.size > settings.KYC_DOCUMENT_MAX_BYTES:
        raise ApiError("The document is too large.", "file_too_large")
    head = document.read(8)
    document.seek(0)
    if not any(head.startswith(magic) for magic in _KYC_CONTENT):
        raise ApiError("Send a PDF, PNG or JPEG document.", "invalid_document")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.kyc_submissions.filter(status=KycSubmission.Status.PENDING).exists():
            raise ApiError(
                "A document is already waiting for review.", "kyc_pending", status.HTTP_409_CONFLICT
            )
        submission = KycSubmission.objects.create(user=user, level=level, document=document)
        audit_record(event=AuditEvent.Kind.KYC_SUBMITTED, user=user, ip=ip, detail={"level": level})
    return submission


def kyc_decide(
    *, submission: KycSubmission, reviewer: User, approve: bool, reason: str = ""
) -> KycSubmission:
    """Approve (raising the user's level to the submission's) or reject with a reason.

    Preconditions: ``reviewer`` is staff. Locks the submission row.
    Raises ``ApiError`` ``kyc_not_pending`` (409) when it was already decided,
    ``reason_required`` when rejecting without a reason.
    Side effects: audit ``kyc_decision``.
    """
    reason = reason.strip()
    if not approve and not reason:
        raise ApiError("Give the user a reason for the rejection.", "reason_required")
    with transaction.atomic():
        locked = KycSubmission.objects.select_for_update().get(pk=submission.pk)
        if not locked.can_review():
            raise ApiError(
                "This submission was already decided.", "kyc_not_pending", status.HTTP_409_CONFLICT
            )
        locked.status = KycSubmission.Status.APPROVED if approve else KycSubmission.Status.REJECTED
        locked.reason = reason
        locked.reviewed_by = reviewer
        locked.reviewed_at = timezone.now()
        locked.save(update_fields=["status", "reason", "reviewed_by", "reviewed_at"])
        if approve:
            User.objects.filter(pk=locked.user_id).update(kyc_level=locked.level)
        audit_record(
            event=AuditEvent.Kind.KYC_DECISION,
            user=locked.user,
            detail={
                "submission": locked.pk,
                "decision": locked.status,
                "level": locked.level,
                "reviewer": reviewer.pk,
                "reason": reason,
            },
        )
    return locked


# ---------------------------------------------------------------------- reputation

CENT = Decimal("0.01")
# Reputation.volume_usd is numeric(30, 2): at most 28 digits before the point.
_VOLUME_MAX = Decimal(10) ** 28


def reputation_update(
    *,
    user: User,
    completed_swaps: int,
    volume_usd: Decimal,
    refunded_swaps: int,
    disputes_opened: int,
    disputes_lost: int,
) -> Reputation:
    """Store ``user``'s reputation as recomputed from swap records (insert or replace).

    Called by the swaps app only, after it recomputed the figures from its own records;
    nothing else writes reputation. ``volume_usd`` is rounded half-up to the cent.
    Concurrent calls for one user never create two rows (the row is locked, or created
    once); the last call wins, so callers pass figures recomputed from committed records.

    Raises ``ValueError`` for a negative count, a count that is not an ``int``, or a
    ``volume_usd`` that is a float, negative, not finite or too large.
    Side effects: one upsert in a transaction.
    """
    counts = {
        "completed_swaps": completed_swaps,
        "refunded_swaps": refunded_swaps,
        "disputes_opened": disputes_opened,
        "disputes_lost": disputes_lost,
    }
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, not {value!r}")
    if isinstance(volume_usd, bool) or not isinstance(volume_usd, Decimal | int):
        raise ValueError(f"volume_usd must be a Decimal, not {type(volume_usd).__name__}")
    volume = Decimal(volume_usd)
    if not volume.is_finite() or volume < 0 or volume >= _VOLUME_MAX:
        raise ValueError(f"volume_usd out of range: {volume_usd!r}")
    # A wide context: the default 28 digits could not hold 28 + 2 and would raise.
    cents = volume.quantize(CENT, rounding=ROUND_HALF_UP, context=Context(prec=40))
    if cents >= _VOLUME_MAX:
        raise ValueError(f"volume_usd out of range: {volume_usd!r}")
    with transaction.atomic():
        reputation, _ = Reputation.objects.update_or_create(
            user=user, defaults={**counts, "volume_usd": cents}
        )
    return reputation


# ------------------------------------------------------------------------ deletion


def user_delete(*, user: User, ip: str | None = None) -> User:
    """Delete an account: anonymise personal data, keep the row, end every sign-in.

    Keeps the user row (swaps, listings and audit rows point to it) but clears
    name, e-mail (and allauth's e-mail addresses), display name, avatar, ICP
    principal, linked wallets and KYC documents (the decisions stay, without
    the files). Marks the user inactive with an unusable password, which ends
    every session (the session hash no longer matches and inactive users are
    not loaded), and blacklists every outstanding refresh token. Access tokens
    stop working at once because JWT authentication refuses inactive users.

    Locks the user row. Side effects: deletes files after commit; audit ``deletion``.
    """
    from allauth.account.models import EmailAddress

    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        files = [locked.avatar.name] if locked.avatar else []
        documents = list(
            locked.kyc_submissions.exclude(document="").values_list("document", flat=True)
        )
        locked.username = f"deleted-{locked.pk}"
        locked.email = ""
        locked.first_name = locked.last_name = locked.display_name = ""
        locked.icp_principal = ""
        locked.avatar = ""  # type: ignore[assignment]
        locked.is_active = False
        locked.is_staff = locked.is_superuser = False
        locked.deleted_at = timezone.now()
        locked.set_unusable_password()
        locked.save()
        EmailAddress.objects.filter(user=locked).delete()
        locked.wallets.all().delete()
        locked.kyc_submissions.update(document="")
        jwt_revoke_all(user=locked)
        audit_record(event=AuditEvent.Kind.DELETION, user=locked, ip=ip)

        def _delete_files() -> None:
            for name in files:
                User._meta.get_field("avatar").storage.delete(name)  # type: ignore[attr-defined]
            storage = KycSubmission._meta.get_field("document").storage  # type: ignore[attr-defined]
            for name in documents:
                storage.delete(name)

        transaction.on_commit(_delete_files)
    return locked
