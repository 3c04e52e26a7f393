"""Listings: what a maker sells, for what, and how much of it is still free to take."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.fields import ExactDecimalField

# What the public offer book shows and its indexes cover: active, not hidden, not deleted.
# A listing must also not be past its expiry (a moving cut-off, so not in the index
# conditions): ListingQuerySet.visible and Listing.is_takeable add it.
VISIBLE = Q(state="active", hidden_at__isnull=True, deleted_at__isnull=True)
STATES = ["draft", "active", "paused", "sold_out", "expired", "cancelled"]


def _amount(**kwargs) -> ExactDecimalField:
    # numeric(60, 18) on PostgreSQL; exact on SQLite too (see core/fields.py).
    return ExactDecimalField(**kwargs)


class ListingQuerySet(models.QuerySet["Listing"]):
    def visible(self, *, now: datetime | None = None) -> ListingQuerySet:
        """Listings in the offer book, open to takers: ``Listing.is_takeable`` in SQL."""
        now = now or timezone.now()
        return self.filter(VISIBLE, Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class Listing(models.Model):
    """A maker's standing offer: sell `amount` of the base asset for the quote asset.

    A new listing is ``active`` unless created as a ``draft``. ``remaining`` is the part not
    reserved by swaps; only ``services.listing_reserve`` / ``listing_release`` change it, and
    only ``services.listing_transition`` changes ``state``, along ``TRANSITIONS``.
    The price is either fixed (``price``, quote per base) or market-relative
    (``price_margin_pct`` over the oracle price, clamped to ``price_floor``/``price_ceiling``).
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        PAUSED = "paused", _("Paused")
        SOLD_OUT = "sold_out", _("Sold out")
        EXPIRED = "expired", _("Expired")
        CANCELLED = "cancelled", _("Cancelled")

    # Every legal move; expired and cancelled are final.
    TRANSITIONS: dict[str, frozenset[str]] = {
        State.DRAFT: frozenset({State.ACTIVE, State.EXPIRED, State.CANCELLED}),
        State.ACTIVE: frozenset({State.PAUSED, State.SOLD_OUT, State.EXPIRED, State.CANCELLED}),
        State.PAUSED: frozenset({State.ACTIVE, State.EXPIRED, State.CANCELLED}),
        State.SOLD_OUT: frozenset({State.ACTIVE, State.EXPIRED, State.CANCELLED}),
        State.EXPIRED: frozenset(),
        State.CANCELLED: frozenset(),
    }

    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="listings"
    )
    base_asset = models.ForeignKey("chains.Asset", on_delete=models.PROTECT, related_name="+")
    quote_asset = models.ForeignKey("chains.Asset", on_delete=models.PROTECT, related_name="+")
    # In base asset units.
    amount = _amount()
    remaining = _amount()
    min_trade = _amount()
    max_trade = _amount()
    # Fixed price: quote units per one base unit.
    price = _amount(null=True, blank=True)
    # Market-relative: percent over (or, negative, under) the oracle price.
    price_margin_pct = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    price_floor = _amount(null=True, blank=True)
    price_ceiling = _amount(null=True, blank=True)
    # The maker receives the quote asset here (on the quote asset's network).
    payout_address = models.CharField(max_length=42)
    # The maker's base-asset lock refunds here (on the base asset's network).
    refund_address = models.CharField(max_length=42)
    terms = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    # Moderation: a hidden listing is out of the offer book and cannot be taken.
    hidden_reason = models.CharField(max_length=300, blank=True, default="")
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Soft delete: the row stays because swaps point to it.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ListingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="listing_remaining_within_amount",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="listing_amount_positive"),
            models.CheckConstraint(
                condition=Q(min_trade__gt=0) & Q(min_trade__lte=F("max_trade")),
                name="listing_min_trade_le_max_trade",
            ),
            models.CheckConstraint(
                condition=(Q(price__isnull=False) & Q(price_margin_pct__isnull=True))
                | (Q(price__isnull=True) & Q(price_margin_pct__isnull=False)),
                name="listing_one_price_kind",
            ),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gt=0), name="listing_price_positive"
            ),
            models.CheckConstraint(
                condition=~Q(base_asset=F("quote_asset")), name="listing_base_ne_quote"
            ),
            models.CheckConstraint(condition=Q(state__in=STATES), name="listing_state_valid"),
        ]
        indexes = [
            # The offer book of a pair. Covering indexes: counts, price ordering and price
            # filters read only them (index-only scans), never the wide table rows.
            models.Index(
                fields=["base_asset", "quote_asset"],
                include=["id", "created_at", "expires_at"],
                condition=VISIBLE,
                name="listing_book",
            ),
            # Fixed prices in price order, per pair: price ranges are index ranges.
            models.Index(
                fields=["base_asset", "quote_asset", "price"],
                include=["id", "created_at", "expires_at"],
                condition=VISIBLE & Q(price__isnull=False),
                name="listing_book_fixed",
            ),
            # Market-relative listings with what their price is computed from.
            models.Index(
                fields=["base_asset", "quote_asset"],
                include=[
                    "id",
                    "price_margin_pct",
                    "price_floor",
                    "price_ceiling",
                    "created_at",
                    "expires_at",
                ],
                condition=VISIBLE & Q(price__isnull=True),
                name="listing_book_market",
            ),
            # Text search (the stored terms_tsv column) has two indexes in SQL migrations, not
            # here: listing_terms_tsv (GIN, 0002) and listing_book_terms (a pair's listings
            # with their vector and maker, 0003: pair + text searches read no table rows).
            # Newest first, any or one pair: walk this index and stop after a page.
            models.Index(
                fields=["-created_at", "-id"],
                include=["base_asset", "quote_asset", "expires_at"],
                condition=VISIBLE,
                name="listing_active_newest",
            ),
            models.Index(fields=["maker", "-created_at"], name="listing_maker_newest"),
            # The expiry job: listings that may still expire.
            models.Index(
                fields=["expires_at"],
                condition=Q(
                    expires_at__isnull=False, state__in=["draft", "active", "paused", "sold_out"]
                ),
                name="listing_expiry_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Listing #{self.pk} {self.pair} ({self.state})"

    @property
    def pair(self) -> str:
        """The symbols, ``BASE-QUOTE`` (the same on every network: see ``market``)."""
        return f"{self.base_asset.symbol}-{self.quote_asset.symbol}"

    @property
    def price_pair(self) -> str:
        """The oracle's pair for this listing: the assets' price symbols (``priced_as``)."""
        return f"{self.base_asset.priced_as}-{self.quote_asset.priced_as}"

    @property
    def market(self) -> tuple[str, str]:
        """The market: both assets with their networks (``SYMBOL@network``)."""
        return self.base_asset.label, self.quote_asset.label

    @property
    def is_market_relative(self) -> bool:
        return self.price_margin_pct is not None

    def can_move_to(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.State(self.state)]

    def is_takeable(self, *, now: datetime | None = None) -> bool:
        """In the offer book and open to takers: ``ListingQuerySet.visible`` for this row.

        Active, not hidden, not deleted, not past its expiry (even before the expiry job
        has run).
        """
        return (
            self.state == self.State.ACTIVE
            and self.hidden_at is None
            and self.deleted_at is None
            and not self.is_past_expiry(now=now)
        )

    def is_past_expiry(self, *, now: datetime | None = None) -> bool:
        """Its expiry has passed (whether or not the expiry job has moved it yet)."""
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def is_visible_to(self, user) -> bool:
        """Whether `user` (None: anonymous) may see this listing (page and API).

        Deleted listings are seen by nobody. Its maker and staff see it in every other state;
        everyone else only while it is active and not hidden by moderators (a draft, a
        paused or a closed listing's terms and addresses are the maker's business).
        """
        if self.deleted_at is not None:
            return False
        if user is not None and (user.pk == self.maker_id or user.is_staff):
            return True
        return self.hidden_at is None and self.state == self.State.ACTIVE
