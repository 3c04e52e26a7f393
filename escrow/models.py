"""Goods and services sold for crypto and paid into the on-chain escrow (``Escrow.vy``).

The catalogue (categories, products and services with their images and conditions), the
cart, and orders: their terms, their state machine, its history, files, messages,
conditions, reviews and the arbiter's decisions.

``Order.state`` is written only by ``escrow.services.order_transition``; the legal moves are
``TRANSITIONS`` below. Moves that concern money (funded, released, refunded, disputed,
resolved) come only from confirmed chain events (``escrow.chain``); people cause only the
others: cancel before funding, shipped (the seller), delivered (the buyer).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.fields import ExactDecimalField


class PrivateStorage(FileSystemStorage):
    """Order files have no URL: they are read only through a view that checks the party."""

    def url(self, name: str | None) -> str:
        raise ValueError("private files have no URL")


def order_file_storage() -> FileSystemStorage:
    """Private storage of order files, resolved lazily so the test settings' VAR_DIR applies."""
    root = settings.ESCROW_FILE_ROOT or str(Path(settings.VAR_DIR) / "private" / "escrow")
    return PrivateStorage(location=root)


def _random_name(prefix: str, filename: str, suffix: str | None = None) -> str:
    # A random name: the uploader's file name may itself be personal data.
    ext = suffix if suffix is not None else Path(filename).suffix.lower()[:8]
    return f"{prefix}/{uuid.uuid4().hex}{ext}"


def product_image_path(instance: ProductImage, filename: str) -> str:
    return _random_name("products", filename, ".webp")


def order_file_path(instance: OrderFile, filename: str) -> str:
    return _random_name("orders", filename)


class Category(models.Model):
    """A catalogue section (seeded: Grains, Vegetables, Fruit, Livestock, Dairy, Services,
    Other); staff edit them in the admin."""

    name = models.CharField(max_length=64, unique=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """A product or a service offered for a price per unit in one registered asset."""

    class Kind(models.TextChoices):
        PRODUCT = "product", _("Product")
        SERVICE = "service", _("Service")

    class Unit(models.TextChoices):
        KG = "kg", _("kg")
        GRAM = "g", _("gram")
        TONNE = "t", _("tonne")
        LITRE = "l", _("litre")
        PIECE = "piece", _("piece")
        DOZEN = "dozen", _("dozen")
        BAG = "bag", _("bag")
        BOX = "box", _("box")
        HEAD = "head", _("head (livestock)")
        HOUR = "hour", _("hour")
        DAY = "day", _("day")
        JOB = "job", _("job")

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrow_products"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PRODUCT)
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=5000, blank=True, default="")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    unit = models.CharField(max_length=8, choices=Unit.choices)
    asset = models.ForeignKey("chains.Asset", on_delete=models.PROTECT, related_name="+")
    price = ExactDecimalField(help_text="Per unit, in the asset.")
    shipping_fee = ExactDecimalField(default=0, help_text="Per order, in the asset.")
    quantity_available = models.PositiveIntegerField(
        help_text="Units still for sale; checkout takes them under a conditional update."
    )
    payout_address = models.CharField(max_length=42, help_text="Where the seller is paid.")
    delivery_terms = models.TextField(max_length=2000, blank=True, default="")
    region = models.CharField(max_length=80, blank=True, default="")
    active = models.BooleanField(default=True)
    hidden_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["active", "category", "-created_at"]),
            models.Index(fields=["seller", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="escrow_product_price_positive"),
            models.CheckConstraint(
                condition=Q(shipping_fee__gte=0), name="escrow_product_shipping_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_buyable(self) -> bool:
        return self.active and not self.hidden_reason and self.quantity_available > 0


class ProductCondition(models.Model):
    """A condition a service (or product) must meet; copied into each order, where both
    sides tick it."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="conditions")
    text = models.CharField(max_length=300)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.text


class ProductImage(models.Model):
    """An image checked and re-encoded on upload (no metadata survives)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to=product_image_path)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.image.name


class CartItem(models.Model):
    """A product in a buyer's cart. The cart is shown per seller: one order per seller."""

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="escrow_cart"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["buyer", "product"], name="escrow_cart_once"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="escrow_cart_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}"


class Order(models.Model):
    """What a buyer owes one seller, deposited into the Escrow, and what became of it."""

    # The one place states are named for people: pages, the admin and the API read these.
    class State(models.TextChoices):
        CREATED = "created", pgettext_lazy("order state", "Awaiting payment")
        FUNDED = "funded", _("Paid into escrow")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        RELEASED = "released", _("Released to the seller")
        CANCELLED = "cancelled", _("Cancelled")
        REFUNDED = "refunded", _("Refunded")
        DISPUTED = "disputed", _("In dispute")
        RESOLVED = "resolved", _("Resolved by the arbiter")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrow_orders_bought"
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrow_orders_sold"
    )
    asset = models.ForeignKey("chains.Asset", on_delete=models.PROTECT, related_name="+")
    # The terms, fixed at checkout, in asset units with the asset's decimals. total is what
    # the buyer deposits: subtotal + shipping_fee + fee; on release the seller gets
    # total - fee and the treasury fee.
    subtotal = ExactDecimalField()
    shipping_fee = ExactDecimalField(default=0)
    fee = ExactDecimalField()
    total = ExactDecimalField()
    fee_bps = models.PositiveSmallIntegerField()
    buyer_address = models.CharField(max_length=42, help_text="Refunds and the buyer's share.")
    seller_address = models.CharField(max_length=42, help_text="The seller's payout address.")
    # The platform's 32-byte reference (0x hex) that the deposit names; the contract's order
    # id (which also covers the depositor) once the deposit is confirmed.
    ref = models.CharField(max_length=66, unique=True)
    onchain_id = models.CharField(max_length=66, blank=True, default="")
    release_at = models.PositiveBigIntegerField(help_text="Unix time (chain clock).")
    pay_by = models.DateTimeField(help_text="Cancelled if not funded by then.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATED)
    flag_reason = models.CharField(max_length=64, blank=True, default="")
    tracking = models.TextField(max_length=2000, blank=True, default="")
    release_sent_tx = models.CharField(
        max_length=66, blank=True, default="", help_text="The automatic release, once sent."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["buyer", "-created_at"]),
            models.Index(fields=["seller", "state"]),
            models.Index(fields=["state", "release_at"]),
            models.Index(fields=["asset", "onchain_id"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="escrow_order_total_positive"),
            models.CheckConstraint(
                condition=~Q(buyer=models.F("seller")), name="escrow_order_two_parties"
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.id} ({self.state})"

    @property
    def network(self) -> str:
        return self.asset.network

    def role_of(self, user) -> str | None:
        if user.pk == self.buyer_id:
            return "buyer"
        if user.pk == self.seller_id:
            return "seller"
        return None


S = Order.State

# The legal moves, in one place. funded, released, refunded, disputed and resolved come
# from confirmed chain events only. funded → delivered: a service, nothing to ship. A
# cancelled order that is funded anyway (a deposit confirmed after the payment window) is
# honoured and flagged for the seller.
TRANSITIONS: dict[str, set[str]] = {
    S.CREATED: {S.FUNDED, S.CANCELLED},
    S.CANCELLED: {S.FUNDED},
    S.FUNDED: {S.SHIPPED, S.DELIVERED, S.RELEASED, S.REFUNDED, S.DISPUTED},
    S.SHIPPED: {S.DELIVERED, S.RELEASED, S.REFUNDED, S.DISPUTED},
    S.DELIVERED: {S.RELEASED, S.REFUNDED, S.DISPUTED},
    S.DISPUTED: {S.RESOLVED, S.REFUNDED, S.RELEASED},
    S.RELEASED: set(),
    S.REFUNDED: set(),
    S.RESOLVED: set(),
}
# Moves only a confirmed chain event may cause.
CHAIN_STATES = {S.FUNDED, S.RELEASED, S.REFUNDED, S.DISPUTED, S.RESOLVED}
FINAL_STATES = {S.RELEASED, S.REFUNDED, S.RESOLVED}
# While funded and not final, the money is in the escrow.
HELD_STATES = {S.FUNDED, S.SHIPPED, S.DELIVERED, S.DISPUTED}
HAPPY_PATH: tuple[Order.State, ...] = (S.CREATED, S.FUNDED, S.SHIPPED, S.DELIVERED, S.RELEASED)


class OrderLine(models.Model):
    """One product in an order, with the price and title as they were at checkout."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    unit = models.CharField(max_length=8)
    unit_price = ExactDecimalField()
    quantity = models.PositiveIntegerField()
    line_total = ExactDecimalField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.quantity} {self.unit} {self.title}"


class OrderEvent(models.Model):
    """One transition: when, from what to what, why, who, and the chain evidence for it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=16, choices=Order.State.choices)
    to_state = models.CharField(max_length=16, choices=Order.State.choices)
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


class OrderFile(models.Model):
    """A file a party attached: shipping papers, a condition's evidence, or in a message."""

    class Purpose(models.TextChoices):
        SHIPPING = "shipping", _("Shipping")
        CONDITION = "condition", _("Condition evidence")
        MESSAGE = "message", _("Message attachment")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="files")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    file = models.FileField(upload_to=order_file_path, storage=order_file_storage)
    name = models.CharField(max_length=120, help_text="As uploaded, for the download.")
    content_type = models.CharField(max_length=80)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.name


class OrderCondition(models.Model):
    """A condition agreed at checkout; each side ticks it (with evidence files)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="conditions")
    text = models.CharField(max_length=300)
    buyer_ok_at = models.DateTimeField(null=True, blank=True)
    seller_ok_at = models.DateTimeField(null=True, blank=True)
    evidence = models.ManyToManyField(OrderFile, blank=True, related_name="+")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def met(self) -> bool:
        return self.buyer_ok_at is not None and self.seller_ok_at is not None


class OrderMessage(models.Model):
    """The order's conversation: both parties and staff, with optional files."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=4000)
    staff = models.BooleanField(default=False, help_text="Written by staff (the arbitration desk).")
    files = models.ManyToManyField(OrderFile, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"message on {self.order_id}"


class Resolution(models.Model):
    """Staff's decision on a disputed order: the split, why, who, and the transaction."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="resolution")
    buyer_share_bps = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10_000)])
    reason = models.TextField(max_length=4000)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    tx_hash = models.CharField(max_length=66, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.buyer_share_bps / 100}% to the buyer of {self.order_id}"


class Review(models.Model):
    """After release the buyer rates the seller, once per order."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="review")
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escrow_reviews"
    )
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    text = models.TextField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="escrow_review_rating_1_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rating}/5 for {self.seller_id}"
