from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models.functions import Lower


class PrivateStorage(FileSystemStorage):
    """File storage with no URL at all: files are read only through views that check access."""

    def url(self, name: str | None) -> str:
        raise ValueError("private files have no URL")


def kyc_storage() -> FileSystemStorage:
    """Private storage of KYC documents: outside ``MEDIA_ROOT``, with no URL.

    Resolved lazily so the test settings' temporary ``VAR_DIR`` applies.
    """
    root = settings.KYC_DOCUMENT_ROOT or str(Path(settings.VAR_DIR) / "private" / "kyc")
    return PrivateStorage(location=root)


def kyc_document_path(instance: KycSubmission, filename: str) -> str:
    """A random name: the uploader's file name may itself be personal data. The extension is
    kept only when it is one ``kyc_submit`` derives from verified content."""
    suffix = Path(filename).suffix.lower()
    return f"documents/{uuid.uuid4().hex}{suffix if suffix in ('.pdf', '.png', '.jpg') else ''}"


def avatar_path(instance: User, filename: str) -> str:
    """A random name per upload, so a replaced avatar never keeps a cached URL."""
    return f"avatars/{uuid.uuid4().hex}.png"


class User(AbstractUser):
    """A marketplace user. Signs in by e-mail (allauth) or by wallet (SIWE).

    E-mail is optional because a wallet-only user has none; when present it is
    unique, case-insensitively.
    """

    class Language(models.TextChoices):
        EN = "en", "English"
        BN = "bn", "বাংলা"

    class KycLevel(models.TextChoices):
        NONE = "none", "None"
        BASIC = "basic", "Basic"
        VERIFIED = "verified", "Verified"

    email = models.EmailField("email address", blank=True, default="")
    display_name = models.CharField(max_length=80, blank=True, default="")
    preferred_language = models.CharField(
        max_length=5, choices=Language.choices, default=Language.EN
    )
    avatar = models.ImageField(upload_to=avatar_path, blank=True, default="")
    # A textual ICP principal (validated with its CRC-32); at most one account per principal.
    icp_principal = models.CharField(max_length=63, blank=True, default="")
    # When the principal was last proven with Internet Identity; null: typed in before proof
    # was required (a claim only, which a proof by another account replaces).
    icp_principal_proven_at = models.DateTimeField(null=True, blank=True)
    kyc_level = models.CharField(max_length=10, choices=KycLevel.choices, default=KycLevel.NONE)
    terms_version = models.CharField(max_length=32, blank=True, default="")
    terms_accepted_at = models.DateTimeField(null=True, blank=True)
    # Set when the account was deleted: the row stays (swaps and audit rows point to it).
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Lookalike key of public_name (accounts.names.name_key), kept by save(): two users'
    # names may not share one, so nobody can pass for staff or for another maker.
    name_key = models.CharField(max_length=255, blank=True, default="", db_index=True)
    # Carried in every access token and bumped on logout and deletion: an access token with
    # an older version stops working at once (accounts.authentication).
    token_version = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_unique_ci",
            ),
            models.UniqueConstraint(
                "icp_principal",
                condition=~models.Q(icp_principal=""),
                name="accounts_user_icp_principal_unique",
            ),
        ]

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    def save(self, *args, **kwargs) -> None:
        from accounts.names import name_key

        self.name_key = name_key(self.public_name)[:255]
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"display_name", "username"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "name_key"}
        super().save(*args, **kwargs)


class Wallet(models.Model):
    """An EVM address proven (by SIWE) to belong to a user. One address, one account."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="wallets")
    # EIP-55 checksummed; uniqueness is on the lowercased form, so case cannot duplicate it.
    address = models.CharField(max_length=42)
    chain_id = models.PositiveBigIntegerField(help_text="Chain the address first signed in on.")
    created_at = models.DateTimeField(auto_now_add=True)
    # The address the user chose for new offers and swaps (accounts.selectors.wallet_list
    # lists it first); with none chosen the oldest comes first. At most one per user.
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(Lower("address"), name="accounts_wallet_address_unique_ci"),
            models.UniqueConstraint(
                "user",
                condition=models.Q(is_default=True),
                name="accounts_wallet_one_default_per_user",
            ),
        ]

    def __str__(self) -> str:
        return self.address


class SiweNonce(models.Model):
    """A single-use SIWE nonce, bound to the address and chain it was issued for."""

    nonce = models.CharField(max_length=32, unique=True)
    address = models.CharField(max_length=42)
    chain_id = models.PositiveBigIntegerField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.address} on {self.chain_id}"


class AuditEvent(models.Model):
    """A security event. Append-only; never holds secrets, tokens or signatures."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
        SIGN_UP = "sign_up", "Signed up"
        WALLET_LINKED = "wallet_linked", "Wallet linked"
        WALLET_UNLINKED = "wallet_unlinked", "Wallet unlinked"
        ICP_LINKED = "icp_linked", "ICP principal linked"
        LOGOUT = "logout", "Signed out"
        KYC_SUBMITTED = "kyc_submitted", "KYC document submitted"
        KYC_DECISION = "kyc_decision", "KYC decision"
        DELETION = "deletion", "Account deleted"

    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    event = models.CharField(max_length=32, choices=Kind.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event} {self.user_id or '-'} {self.created_at:%Y-%m-%d %H:%M}"


class KycSubmission(models.Model):
    """A document a user sent to reach a KYC level, and staff's decision on it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="kyc_submissions")
    level = models.CharField(
        max_length=10,
        choices=[(c.value, c.label) for c in User.KycLevel if c != User.KycLevel.NONE],
    )
    document = models.FileField(upload_to=kyc_document_path, storage=kyc_storage)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"KYC #{self.pk} {self.level} {self.status}"

    def can_review(self) -> bool:
        return self.status == self.Status.PENDING


class Reputation(models.Model):
    """A user's track record, derived from swap records by the swaps app; never typed in.

    One row per user who has taken part in a swap; a user without a row has a clean,
    empty record. Kept as a table so the offer book can filter and order makers by it.
    """

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="reputation"
    )
    completed_swaps = models.PositiveIntegerField(default=0, db_index=True)
    # Sum of completed swaps' value in USD at the price fixed when each swap was created.
    volume_usd = models.DecimalField(max_digits=30, decimal_places=2, default=0)
    # Refunded swaps in which this user was at fault (the other party's record is untouched).
    refunded_swaps = models.PositiveIntegerField(default=0)
    # Faults: a missed deadline or a lock off the terms (failed), a swap never locked
    # (abandoned). Each counts against the party at fault only.
    failed_swaps = models.PositiveIntegerField(default=0)
    abandoned_swaps = models.PositiveIntegerField(default=0)
    disputes_opened = models.PositiveIntegerField(default=0)
    disputes_lost = models.PositiveIntegerField(default=0)
    # Set when recent faults reached SWAP_FAULT_SUSPEND_COUNT: no swaps, no listings until.
    suspended_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"reputation of {self.user_id}"


class IiNonce(models.Model):
    """A single-use Internet Identity challenge: the session key of a delegation chain signs
    it to sign in (``sign_in``) or to link its principal to ``user`` (``link``)."""

    class Purpose(models.TextChoices):
        SIGN_IN = "sign_in", "Sign in"
        LINK = "link", "Link a principal"

    nonce = models.CharField(max_length=32, unique=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} nonce {self.nonce[:8]}"
