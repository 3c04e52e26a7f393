"""The account itself: terms, profile, avatar and deletion."""

from __future__ import annotations

import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from accounts import names
from accounts.models import AuditEvent, KycSubmission, User
from accounts.services.audit import audit_record
from accounts.services.tokens import jwt_end_all
from core.api.errors import ApiError


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

    Raises ``ApiError`` ``invalid_language`` for another language code, and for the name
    (see :func:`display_name_check`) ``name_invalid_characters``, ``name_reserved`` or
    ``name_taken``.
    """
    fields = []
    if display_name is not None:
        user.display_name = display_name_check(user=user, name=display_name.strip()[:80])
        fields.append("display_name")
    if preferred_language is not None:
        if preferred_language not in User.Language.values:
            raise ApiError("This language is not offered.", "invalid_language")
        user.preferred_language = preferred_language
        fields.append("preferred_language")
    if fields:
        user.save(update_fields=fields)
    return user


def display_name_check(*, user: User, name: str) -> str:
    """``name`` if ``user`` may show it, else ``ApiError`` (400) with the reason's code.

    Refused: bidi controls, invisible and other format or control characters
    (``name_invalid_characters``); a reserved name or a lookalike of one, or of a staff
    member's name (``name_reserved``); a lookalike of another user's name (``name_taken``).
    Lookalikes share a TR39-based key (``accounts.names``). A blank name is always fine.
    """
    if not name:
        return name
    bad = names.bad_characters(name)
    if bad:
        raise ApiError(
            f"The name holds characters that are not allowed ({', '.join(bad[:3])}).",
            "name_invalid_characters",
        )
    key = names.name_key(name)
    others = User.objects.exclude(pk=user.pk)
    staff_keys = {
        names.name_key(n)
        for pair in others.filter(is_staff=True).values_list("username", "display_name")
        for n in pair
        if n
    }
    if key in names.reserved_keys() or key in staff_keys:
        raise ApiError("This name is reserved; choose another.", "name_reserved")
    if others.filter(name_key=key).exists():
        raise ApiError("This name is too close to another user's; choose another.", "name_taken")
    return name


AVATAR_SIZE = 256
_AVATAR_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


def avatar_set(*, user: User, upload: UploadedFile) -> User:
    """Replace ``user``'s avatar with ``upload`` re-encoded as a 256x256-max PNG.

    Only the header is read before the size check: an image whose declared width times
    height exceeds ``UPLOAD_IMAGE_MAX_PIXELS`` is refused before any pixel is decoded (a
    small file can declare a huge canvas). The image is then decoded and drawn into a
    fresh image, so no metadata (EXIF, GPS, comments) and no trailing bytes survive.
    Raises ``ApiError`` ``file_too_large``, ``image_too_large`` or ``invalid_image`` (400).
    """
    if upload.size is None or upload.size > settings.AVATAR_MAX_BYTES:
        raise ApiError("The image is too large.", "file_too_large")
    try:
        # `formats` keeps Pillow from trying every other decoder it has on hostile bytes.
        with Image.open(upload, formats=_AVATAR_FORMATS) as probe:
            if probe.width * probe.height > settings.UPLOAD_IMAGE_MAX_PIXELS:
                raise ApiError(
                    "The image has too many pixels; send a smaller one.", "image_too_large"
                )
            probe.load()
            image = probe.convert("RGBA")
    except Image.DecompressionBombError as exc:  # Pillow's own check, at open
        raise ApiError(
            "The image has too many pixels; send a smaller one.", "image_too_large"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
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
        locked.icp_principal_proven_at = None
        locked.avatar = ""  # type: ignore[assignment]
        locked.is_active = False
        locked.is_staff = locked.is_superuser = False
        locked.deleted_at = timezone.now()
        locked.set_unusable_password()
        locked.save()
        EmailAddress.objects.filter(user=locked).delete()
        locked.wallets.all().delete()
        locked.kyc_submissions.update(document="")
        jwt_end_all(user=locked)
        audit_record(event=AuditEvent.Kind.DELETION, user=locked, ip=ip)

        def _delete_files() -> None:
            for name in files:
                User._meta.get_field("avatar").storage.delete(name)  # type: ignore[attr-defined]
            storage = KycSubmission._meta.get_field("document").storage  # type: ignore[attr-defined]
            for name in documents:
                storage.delete(name)

        transaction.on_commit(_delete_files)
    return locked
