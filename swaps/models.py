"""Swaps: the terms two users agreed on, and what the chains say happened to them.

State is written only by ``swaps.services.swap_transition``; the legal moves are
``TRANSITIONS`` below. Chain-driven moves come from confirmed watcher events; the only
moves a person can cause are cancel (before any lock) and expiry (nobody locked in time).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from core.fields import ExactDecimalField


class Swap(models.Model):
    # The one place states are named for people: pages, the admin and the API read these
    # labels (never retype them), in this order (HAPPY_PATH below is the timeline's order).
    class State(models.TextChoices):
        CREATED = "created", pgettext_lazy("swap state", "Created")
        TAKER_LOCKED = "taker_locked", _("Buyer locked")
        MAKER_LOCKED = "maker_locked", _("Seller locked")
        SECRET_REVEALED = "secret_revealed", _("Secret revealed")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")
        REFUNDED = "refunded", _("Refunded")
        FLAGGED = "flagged", _("Flagged for review")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    listing = models.ForeignKey("marketplace.Listing", on_delete=models.PROTECT, related_name="+")
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="swaps_as_maker"
    )
    taker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="swaps_as_taker"
    )
    base_asset = models.ForeignKey("chains.Asset", on_delete=models.PROTECT, related_name="+")
    quote_asset = models.ForeignKey("chains.Asset", on_delete=models.PROTECT, related_name="+")
    # Fixed when the swap is created: amounts in asset units (Decimal) with the asset's
    # decimals, and the price (quote per base) they were computed at. numeric(60, 18) on
    # PostgreSQL; exact on SQLite too (see core/fields.py).
    amount = ExactDecimalField()
    quote_amount = ExactDecimalField()
    price = ExactDecimalField()
    value_usd = ExactDecimalField(max_digits=30, decimal_places=2, null=True, blank=True)
    # sha256(secret), 0x-prefixed lowercase hex. Unique: a hashlock whose secret went
    # public on one swap must never guard another.
    hashlock = models.CharField(max_length=66, unique=True)
    # The four addresses. The taker locks the quote asset for maker_payout_address on
    # the quote network; the maker locks the base asset for taker_address on the base
    # network. Refunds go to each lock's sender: taker_refund_address / maker_refund_address.
    taker_address = models.CharField(max_length=42)
    taker_refund_address = models.CharField(max_length=42)
    maker_payout_address = models.CharField(max_length=42)
    maker_refund_address = models.CharField(max_length=42)
    # Unix timestamps (chain time). T1 (taker, quote network) > T2 (maker, base network).
    taker_timelock = models.PositiveBigIntegerField()
    maker_timelock = models.PositiveBigIntegerField()
    quote_expires_at = models.DateTimeField(help_text="The taker must lock before this.")
    # Deadlines per step (README, "Deadlines and timelocks"). A missed one is the fault of
    # the party who had to act; it never forces anything on chain: refunds go by timelocks.
    maker_deadline = models.DateTimeField(
        null=True, blank=True, help_text="The maker's lock must be seen on chain by then."
    )
    taker_redeem_deadline = models.DateTimeField(
        null=True, blank=True, help_text="The taker must redeem by then."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATED)
    # The locks that count, once the watcher has confirmed them.
    taker_lock_id = models.CharField(max_length=66, blank=True, default="")
    maker_lock_id = models.CharField(max_length=66, blank=True, default="")
    preimage = models.CharField(max_length=66, blank=True, default="", help_text="Public.")
    flag_reason = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "state_changed_at"]),
            models.Index(fields=["taker", "state"]),
            models.Index(fields=["maker", "state"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="swap_amount_positive"),
            models.CheckConstraint(
                condition=Q(quote_amount__gt=0), name="swap_quote_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(taker_timelock__gt=models.F("maker_timelock")),
                name="swap_t1_after_t2",
            ),
            models.CheckConstraint(condition=~Q(maker=models.F("taker")), name="swap_two_parties"),
        ]

    def __str__(self) -> str:
        return f"swap {self.id} ({self.state})"

    @property
    def base_network(self) -> str:
        return self.base_asset.network

    @property
    def quote_network(self) -> str:
        return self.quote_asset.network

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def role_of(self, user) -> str | None:
        if user.pk == self.taker_id:
            return "taker"
        if user.pk == self.maker_id:
            return "maker"
        return None


S = Swap.State

# The legal moves, in one place. Forward moves come from chain events (or cancel and
# expiry); REORG_ROLLBACKS undo a forward move whose evidence a reorg orphaned.
TRANSITIONS: dict[str, set[str]] = {
    S.CREATED: {S.TAKER_LOCKED, S.CANCELLED, S.EXPIRED, S.FLAGGED},
    S.TAKER_LOCKED: {S.MAKER_LOCKED, S.REFUNDED, S.FLAGGED},
    S.MAKER_LOCKED: {S.SECRET_REVEALED, S.REFUNDED, S.FLAGGED},
    S.SECRET_REVEALED: {S.COMPLETED, S.REFUNDED, S.FLAGGED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.EXPIRED: set(),
    S.REFUNDED: set(),
    S.FLAGGED: set(),
}
REORG_ROLLBACKS: dict[str, str] = {
    S.TAKER_LOCKED: S.CREATED,
    S.MAKER_LOCKED: S.TAKER_LOCKED,
    S.SECRET_REVEALED: S.MAKER_LOCKED,
}
# The order a swap moves in when all goes well: the swap page's timeline. Every other state
# ends a swap early, from one of these.
HAPPY_PATH: tuple[Swap.State, ...] = (
    S.CREATED,
    S.TAKER_LOCKED,
    S.MAKER_LOCKED,
    S.SECRET_REVEALED,
    S.COMPLETED,
)
OPEN_STATES = {S.CREATED, S.TAKER_LOCKED, S.MAKER_LOCKED, S.SECRET_REVEALED}
TERMINAL_STATES = {S.COMPLETED, S.CANCELLED, S.EXPIRED, S.REFUNDED, S.FLAGGED}
# Terminal states in which the maker's base amount was not sold: it goes back on the listing.
RELEASING_STATES = {S.CANCELLED, S.EXPIRED, S.REFUNDED, S.FLAGGED}


class SwapEvent(models.Model):
    """One transition: when, from what to what, why, and the chain evidence for it."""

    swap = models.ForeignKey(Swap, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=16, choices=Swap.State.choices)
    to_state = models.CharField(max_length=16, choices=Swap.State.choices)
    cause = models.CharField(max_length=64)
    network = models.CharField(max_length=32, blank=True, default="")
    tx_hash = models.CharField(max_length=66, blank=True, default="")
    block = models.PositiveBigIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state} ({self.cause})"


class SwapFault(models.Model):
    """A party failed the swap: recorded once per kind, counted in that party's reputation
    only (the other party's record is untouched)."""

    class Kind(models.TextChoices):
        MAKER_MISSED_DEADLINE = "maker_missed_deadline", _("The seller did not lock in time")
        TAKER_MISSED_REDEEM = "taker_missed_redeem", _("The buyer did not redeem in time")
        BAD_LOCK = "bad_lock", _("A lock did not match the terms")
        ABANDONED = "abandoned", _("The buyer never locked")

    swap = models.ForeignKey(Swap, on_delete=models.CASCADE, related_name="faults")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=5)  # taker | maker
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["swap", "kind"], name="swap_fault_once_per_kind")
        ]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on {self.swap_id} ({self.role})"


class Dispute(models.Model):
    """A party asks staff to look at a swap. Staff record an outcome; they never move funds."""

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    class Outcome(models.TextChoices):
        TAKER_AT_FAULT = "taker_at_fault"
        MAKER_AT_FAULT = "maker_at_fault"
        NO_FAULT = "no_fault"

    swap = models.OneToOneField(Swap, on_delete=models.CASCADE, related_name="dispute")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True, default="")
    resolution = models.TextField(blank=True, default="")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"dispute on {self.swap_id} ({self.status})"


class DisputeMessage(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"message on {self.dispute_id}"


class Notification(models.Model):
    """An in-app notice for a user; e-mailed too when the user has a verified address."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    swap = models.ForeignKey(Swap, null=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    # English, marked with gettext_noop; translated when shown or mailed, then filled with
    # `params` (e.g. a time), so each reader gets their language.
    message = models.CharField(max_length=300)
    params = models.JSONField(default=dict, blank=True)
    # The page it opens when it is about no swap (e.g. an escrow order); a path on this site.
    link = models.CharField(max_length=200, blank=True, default="")
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"

    @property
    def text(self) -> str:
        """The notice in the active language, its parameters filled in."""
        translated = gettext(self.message)
        try:
            return translated % self.params if self.params else translated
        except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder
            return self.message % self.params


class SwapMessage(models.Model):
    """A message between a swap's two parties, on its page (live over its WebSocket); staff
    read them in the admin."""

    swap = models.ForeignKey(Swap, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["swap", "created_at"])]

    def __str__(self) -> str:
        return f"message on {self.swap_id}"


class PrivateStorage(FileSystemStorage):
    """Storage with no URL: evidence is read only through views that check who asks."""

    def url(self, name: str | None) -> str:
        raise ValueError("private files have no URL")


def evidence_storage() -> FileSystemStorage:
    """Dispute evidence, outside ``MEDIA_ROOT`` (``SWAP_EVIDENCE_ROOT``, default
    ``$VAR_DIR/private/evidence``); resolved lazily so test settings apply."""
    root = settings.SWAP_EVIDENCE_ROOT or str(Path(settings.VAR_DIR) / "private" / "evidence")
    return PrivateStorage(location=root)


def evidence_path(instance: DisputeEvidence, filename: str) -> str:
    """A random name: the uploader's file name may be personal data (it is kept apart)."""
    return f"{instance.dispute_id}/{uuid.uuid4().hex}{Path(filename).suffix.lower()[:6]}"


class DisputeEvidence(models.Model):
    """A file a party attached to a dispute: an image or a PDF, checked by its content,
    private to the swap's parties and staff."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="evidence")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(storage=evidence_storage, upload_to=evidence_path)
    name = models.CharField(max_length=120, help_text="The uploader's file name, shown only.")
    content_type = models.CharField(max_length=40, help_text="Found from the content.")
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"evidence {self.name} on {self.dispute_id}"


class PushSubscription(models.Model):
    """A browser's Web Push subscription (the Push API's endpoint and keys) for a user: the
    notices that need action are pushed to it, signed with this site's VAPID key."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=120, help_text="The browser's P-256 key (base64url).")
    auth = models.CharField(max_length=40, help_text="The browser's auth secret (base64url).")
    created_at = models.DateTimeField(auto_now_add=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"push for {self.user_id}"
