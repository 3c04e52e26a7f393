"""Every write of the escrow app. An order's state changes through ``order_transition`` only."""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop
from PIL import Image, UnidentifiedImageError

from accounts import notices
from accounts.models import User
from chains import selectors as chain_selectors
from chains.interface import ChainUnavailable, EventRef
from core.decimals import (
    CTX,
    base_units,
    decimal_places,
    format_plain,
    from_base_units,
    quantize,
)
from core.live import group_send_on_commit
from core.queue import enqueue_on_commit
from escrow import errors, onchain
from escrow.errors import InvalidTransition, refuse
from escrow.models import (
    HELD_STATES,
    TRANSITIONS,
    CartItem,
    Category,
    Order,
    OrderCondition,
    OrderEvent,
    OrderFile,
    OrderLine,
    OrderMessage,
    Product,
    ProductCondition,
    ProductImage,
    Resolution,
    Review,
)

logger = logging.getLogger(__name__)
S = Order.State
BPS = 10_000
MAX_FEE_BPS = 1_000  # the contract's cap (Escrow.vy); ESCROW_FEE_BPS must stay within it

__all__ = ["Evidence", "InvalidTransition"]

Evidence = EventRef


def live_group(order_id) -> str:
    """The channel-layer group of an order's page and API subscribers."""
    return f"escrow.order.{order_id}"


# ------------------------------------------------------------------ catalogue


def _asset_for_sale(asset_id: int):
    asset = chain_selectors.asset_get(asset_id)
    if asset is None:
        raise refuse(errors.ASSET_UNKNOWN)
    if not onchain.has_escrow(asset.network):
        raise refuse(errors.NO_ESCROW_ON_NETWORK)
    return asset


def _amount(value: Decimal, decimals: int, refusal=errors.INVALID_PRICE, *, zero_ok=False):
    if not isinstance(value, Decimal) or not value.is_finite():
        raise refuse(refusal)
    if value < 0 or (value == 0 and not zero_ok) or decimal_places(value) > decimals:
        raise refuse(refusal)
    return quantize(value, decimals)


def product_create(
    *,
    seller: User,
    title: str,
    category_id: int,
    unit: str,
    asset_id: int,
    price: Decimal,
    quantity_available: int,
    payout_address: str,
    kind: str = Product.Kind.PRODUCT,
    description: str = "",
    shipping_fee: Decimal = Decimal(0),
    delivery_terms: str = "",
    region: str = "",
    conditions: Sequence[str] = (),
) -> Product:
    """Offer a product or service for `price` per `unit` in an asset with an escrow.

    Raises ``EscrowError``: ``category_unknown``, ``asset_unknown``, ``no_escrow_on_network``,
    ``invalid_price`` (also for the shipping fee), ``invalid_address``.
    """
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise refuse(errors.CATEGORY_UNKNOWN)
    asset = _asset_for_sale(asset_id)
    payout = onchain.address_valid(payout_address)
    if payout is None:
        raise refuse(errors.INVALID_ADDRESS)
    with transaction.atomic():
        product = Product.objects.create(
            seller=seller,
            kind=kind,
            title=title.strip()[:120],
            description=description.strip(),
            category=category,
            unit=unit,
            asset=asset,
            price=_amount(price, asset.decimals),
            shipping_fee=_amount(shipping_fee, asset.decimals, zero_ok=True),
            quantity_available=quantity_available,
            payout_address=payout,
            delivery_terms=delivery_terms.strip(),
            region=region.strip(),
        )
        ProductCondition.objects.bulk_create(
            ProductCondition(product=product, text=text.strip()[:300], position=i)
            for i, text in enumerate(conditions)
            if text.strip()
        )
    return product


_PRODUCT_FIELDS = {
    "title",
    "description",
    "price",
    "shipping_fee",
    "quantity_available",
    "payout_address",
    "delivery_terms",
    "region",
    "active",
    "unit",
    "category_id",
}


def product_update(*, product: Product, actor: User, **changes) -> Product:
    """Change a product's fields (its asset and kind are fixed). Seller only.

    Orders already placed keep the terms they were placed at. Raises ``EscrowError`` as
    ``product_create``, and ``not_product_seller``.
    """
    if actor.pk != product.seller_id:
        raise refuse(errors.NOT_PRODUCT_SELLER)
    unknown = set(changes) - _PRODUCT_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    decimals = product.asset.decimals
    if "price" in changes:
        changes["price"] = _amount(changes["price"], decimals)
    if "shipping_fee" in changes:
        changes["shipping_fee"] = _amount(changes["shipping_fee"], decimals, zero_ok=True)
    if "payout_address" in changes:
        changes["payout_address"] = onchain.address_valid(changes["payout_address"])
        if changes["payout_address"] is None:
            raise refuse(errors.INVALID_ADDRESS)
    if "category_id" in changes and not Category.objects.filter(pk=changes["category_id"]).exists():
        raise refuse(errors.CATEGORY_UNKNOWN)
    for name, value in changes.items():
        setattr(product, name, value)
    product.save(update_fields=[*changes, "updated_at"])
    return product


_IMAGE_FORMATS = {"JPEG", "PNG", "WEBP"}
IMAGE_MAX_SIDE = 1600


def product_image_add(*, product: Product, actor: User, upload: UploadedFile) -> ProductImage:
    """Attach an image: decoded (JPEG, PNG or WebP only), limited in bytes and pixels
    (``ESCROW_IMAGE_MAX_BYTES``, ``ESCROW_IMAGE_MAX_PIXELS``) before decoding the pixels,
    scaled to at most 1600 px and re-encoded as WebP, so no metadata (EXIF, GPS) and no
    trailing bytes of the upload survive.

    Raises ``EscrowError``: ``not_product_seller``, ``file_too_large``, ``invalid_image``,
    ``too_many_images``.
    """
    if actor.pk != product.seller_id:
        raise refuse(errors.NOT_PRODUCT_SELLER)
    if upload.size is None or upload.size > settings.ESCROW_IMAGE_MAX_BYTES:
        raise refuse(errors.FILE_TOO_LARGE)
    limit = settings.ESCROW_IMAGES_PER_PRODUCT
    if product.images.count() >= limit:
        raise refuse(errors.TOO_MANY_IMAGES, count=limit)
    try:
        with Image.open(upload) as probe:
            if probe.format not in _IMAGE_FORMATS:
                raise refuse(errors.INVALID_IMAGE)
            # The header tells the size: refuse a decompression bomb before decoding it.
            if probe.width * probe.height > settings.ESCROW_IMAGE_MAX_PIXELS:
                raise refuse(errors.FILE_TOO_LARGE)
            probe.load()
            image = probe.convert("RGB")
    except Image.DecompressionBombError as exc:  # Pillow's own pixel cap, from the header
        raise refuse(errors.FILE_TOO_LARGE) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise refuse(errors.INVALID_IMAGE) from exc
    image.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))
    clean = Image.new("RGB", image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, format="WEBP", quality=85)
    with transaction.atomic():
        # Lock the product so two uploads cannot both pass the count.
        Product.objects.select_for_update().get(pk=product.pk)
        if product.images.count() >= limit:
            raise refuse(errors.TOO_MANY_IMAGES, count=limit)
        picture = ProductImage(
            product=product,
            width=clean.width,
            height=clean.height,
            position=product.images.count(),
        )
        picture.image.save("image.webp", ContentFile(out.getvalue()), save=False)
        picture.save()
    return picture


def product_hide(*, product: Product, reason: str) -> Product:
    """Staff hide a product from the catalogue (with a reason) or, with "", show it again."""
    product.hidden_reason = reason.strip()[:200]
    product.save(update_fields=["hidden_reason", "updated_at"])
    return product


def stock_take(*, product_id: int, quantity: int) -> bool:
    """Take `quantity` units of a product if that many are left, in one conditional UPDATE:
    two buyers racing for the last units cannot both get them (no read-then-write).
    Safe inside the caller's transaction. Returns whether they were taken."""
    return (
        Product.objects.filter(pk=product_id, quantity_available__gte=quantity).update(
            quantity_available=F("quantity_available") - quantity
        )
        == 1
    )


def stock_return(*, product_id: int, quantity: int) -> None:
    """Put `quantity` units back (a cancelled order, or a refund of goods never shipped)."""
    Product.objects.filter(pk=product_id).update(
        quantity_available=F("quantity_available") + quantity
    )


# ------------------------------------------------------------------ cart


def cart_set(*, buyer: User, product_id: int, quantity: int) -> CartItem | None:
    """Put `quantity` of a product in the buyer's cart (0 removes it). Stock is taken only
    at checkout. Raises ``EscrowError``: ``product_unavailable``, ``own_product``,
    ``invalid_quantity``."""
    if quantity < 0:
        raise refuse(errors.INVALID_QUANTITY)
    if quantity == 0:
        CartItem.objects.filter(buyer=buyer, product_id=product_id).delete()
        return None
    product = Product.objects.filter(pk=product_id).first()
    if product is None or not product.active or product.hidden_reason:
        raise refuse(errors.PRODUCT_UNAVAILABLE)
    if product.seller_id == buyer.pk:
        raise refuse(errors.OWN_PRODUCT)
    item, _ = CartItem.objects.update_or_create(
        buyer=buyer, product=product, defaults={"quantity": quantity}
    )
    return item


# ------------------------------------------------------------------ orders


@dataclass(frozen=True)
class Quote:
    """What an order costs, before anything is written: the summary shown before paying."""

    subtotal: Decimal
    shipping_fee: Decimal
    fee: Decimal
    total: Decimal
    fee_bps: int


def order_quote(*, lines: Sequence[tuple[Product, int]]) -> Quote:
    """Subtotal (price × quantity), shipping (each product's fee once per order), the
    platform fee (``ESCROW_FEE_BPS`` of subtotal + shipping, rounded down to the asset's
    base unit) and the total the buyer deposits. All lines must share one asset."""
    asset = lines[0][0].asset
    decimals = asset.decimals
    subtotal = sum((CTX.multiply(p.price, q) for p, q in lines), Decimal(0))
    shipping = sum(
        (p.shipping_fee for p, _ in {p.pk: (p, q) for p, q in lines}.values()), Decimal(0)
    )
    bps = int(settings.ESCROW_FEE_BPS)
    if not 0 <= bps <= MAX_FEE_BPS:
        raise ValueError("ESCROW_FEE_BPS must be within 0..1000 (the contract's cap)")
    net_units = base_units(quantize(subtotal + shipping, decimals), decimals)
    fee = from_base_units(net_units * bps // BPS, decimals)
    net = from_base_units(net_units, decimals)
    return Quote(
        subtotal=quantize(subtotal, decimals),
        shipping_fee=quantize(shipping, decimals),
        fee=fee,
        total=quantize(net + fee, decimals),
        fee_bps=bps,
    )


def _release_seconds(network: str) -> int:
    table = settings.ESCROW_RELEASE_SECONDS
    return int(table.get(network, table["default"]))


def order_create(*, buyer: User, lines: Sequence[tuple[int, int]], refund_address: str) -> Order:
    """Check out `lines` ((product id, quantity), one seller and one asset) into one order.

    Takes the stock of every line (conditional updates in product id order, so two
    checkouts never deadlock and never oversell), fixes the terms (amounts, fee, the
    addresses, the release time by the chain's clock, the payment window) and copies the
    products' conditions. Nothing is on chain yet: the buyer pays by ``next_action``.

    Raises ``EscrowError``: ``invalid_quantity``, ``product_unavailable``, ``own_product``,
    ``mixed_assets``, ``out_of_stock``, ``invalid_address``, ``no_escrow_on_network``,
    ``chain_unavailable``.
    """
    if not lines:
        raise refuse(errors.CART_EMPTY)
    if any(not isinstance(q, int) or isinstance(q, bool) or q < 1 for _, q in lines):
        raise refuse(errors.INVALID_QUANTITY)
    refund = onchain.address_valid(refund_address)
    if refund is None:
        raise refuse(errors.INVALID_ADDRESS)
    merged: dict[int, int] = {}
    for product_id, quantity in lines:
        merged[product_id] = merged.get(product_id, 0) + quantity
    products = {
        p.pk: p for p in Product.objects.select_related("asset").filter(pk__in=merged, active=True)
    }
    if len(products) != len(merged) or any(p.hidden_reason for p in products.values()):
        raise refuse(errors.PRODUCT_UNAVAILABLE)
    first = next(iter(products.values()))
    if any(p.seller_id == buyer.pk for p in products.values()):
        raise refuse(errors.OWN_PRODUCT)
    if len({(p.seller_id, p.asset_id, p.payout_address) for p in products.values()}) != 1:
        raise refuse(errors.MIXED_ASSETS)
    network = first.asset.network
    if not onchain.has_escrow(network):
        raise refuse(errors.NO_ESCROW_ON_NETWORK)
    try:
        now = max(int(time.time()), onchain.chain_now(network))
    except ChainUnavailable as exc:
        raise refuse(errors.CHAIN_UNAVAILABLE) from exc
    ordered = [(products[pk], merged[pk]) for pk in sorted(merged)]
    quote = order_quote(lines=ordered)
    with transaction.atomic():
        for product, quantity in ordered:
            if not stock_take(product_id=product.pk, quantity=quantity):
                product.refresh_from_db(fields=["quantity_available"])
                raise refuse(
                    errors.OUT_OF_STOCK,
                    available=product.quantity_available,
                    title=product.title,
                )
        order = Order(
            buyer=buyer,
            seller_id=first.seller_id,
            asset=first.asset,
            subtotal=quote.subtotal,
            shipping_fee=quote.shipping_fee,
            fee=quote.fee,
            total=quote.total,
            fee_bps=quote.fee_bps,
            buyer_address=refund,
            seller_address=first.payout_address,
            release_at=now + _release_seconds(network),
            pay_by=timezone.now() + timedelta(seconds=settings.ESCROW_PAYMENT_WINDOW_SECONDS),
        )
        order.ref = "0x" + hashlib.sha256(f"escrow-order:{order.id}".encode()).hexdigest()
        order.save(force_insert=True)
        OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=product,
                title=product.title,
                unit=product.unit,
                unit_price=product.price,
                quantity=quantity,
                line_total=quantize(CTX.multiply(product.price, quantity), product.asset.decimals),
            )
            for product, quantity in ordered
        )
        OrderCondition.objects.bulk_create(
            OrderCondition(order=order, text=c.text)
            for c in ProductCondition.objects.filter(product_id__in=merged).order_by(
                "product_id", "position", "pk"
            )
        )
        OrderEvent.objects.create(
            order=order, from_state=S.CREATED, to_state=S.CREATED, cause="checkout", actor=buyer
        )
    return order


def checkout(*, buyer: User, seller_id: int, refund_address: str) -> Order:
    """Turn the buyer's cart items from one seller into one order (``order_create``) and
    empty them from the cart. Raises as ``order_create``; ``cart_empty`` without items."""
    items = list(
        CartItem.objects.filter(buyer=buyer, product__seller_id=seller_id).order_by("product_id")
    )
    if not items:
        raise refuse(errors.CART_EMPTY)
    with transaction.atomic():
        order = order_create(
            buyer=buyer,
            lines=[(i.product_id, i.quantity) for i in items],
            refund_address=refund_address,
        )
        CartItem.objects.filter(pk__in=[i.pk for i in items]).delete()
    return order


# ------------------------------------------------------------------ the state machine


def order_transition(
    *,
    order_id,
    to: str,
    cause: str,
    evidence: Evidence | None = None,
    actor: User | None = None,
    fields: dict | None = None,
    rollback: bool = False,
) -> Order:
    """The one writer of ``Order.state``.

    Locks the order row, refuses a move not in ``TRANSITIONS`` with ``InvalidTransition``
    (a `rollback`, for a reorg that orphaned the evidence of the last move, may go back),
    updates conditionally on the old state, records an ``OrderEvent`` with time, cause,
    actor and evidence, returns stock on cancel (and on a refund of goods never shipped),
    and on commit tells live subscribers and queues the parties' notice.
    """
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        old = order.state
        if not rollback and to not in TRANSITIONS[old]:
            raise InvalidTransition(f"{old} -> {to}")
        now = timezone.now()
        others = {"state_changed_at": now, "updated_at": now, **(fields or {})}
        if "state" in others:
            raise ValueError("the state is `to`, never one of `fields`")
        if Order.objects.filter(pk=order.pk, state=old).update(state=to, **others) != 1:
            raise InvalidTransition(f"{old} -> {to}: state changed underneath")
        order.state = to
        for name, value in others.items():
            setattr(order, name, value)
        evidence = evidence or Evidence("", "", 0)
        OrderEvent.objects.create(
            order=order,
            from_state=old,
            to_state=to,
            cause=cause,
            network=evidence.network,
            tx_hash=evidence.tx_hash,
            block=evidence.block_number or None,
            actor=actor,
        )
        shipped = order.events.filter(to_state=S.SHIPPED).exists()
        if to == S.CANCELLED or (to == S.REFUNDED and not shipped):
            for line in order.lines.all():
                stock_return(product_id=line.product_id, quantity=line.quantity)
        if old == S.CANCELLED and to == S.FUNDED:
            for line in order.lines.all():  # the stock was returned on cancel: take it again
                Product.objects.filter(pk=line.product_id).update(
                    quantity_available=F("quantity_available") - line.quantity
                )
        group_send_on_commit(live_group(order.pk), {"type": "order.state", "state": to})
        enqueue_on_commit("escrow.notify", str(order.pk), to)
    return order


def order_cancel(*, order: Order, actor: User) -> Order:
    """The buyer cancels an order not yet paid. Checked on chain too: a deposit already
    mined (not yet confirmed) cannot be cancelled. Raises ``EscrowError``:
    ``not_your_step``, ``wrong_state``, ``chain_unavailable``."""
    if actor.pk != order.buyer_id:
        raise refuse(errors.NOT_YOUR_STEP, role="buyer")
    if order.state != S.CREATED:
        raise refuse(errors.WRONG_STATE, state=order.get_state_display())
    try:
        if onchain.on_chain(order) is not None:
            raise refuse(errors.WRONG_STATE, state=S.FUNDED.label)
    except ChainUnavailable as exc:
        raise refuse(errors.CHAIN_UNAVAILABLE) from exc
    return order_transition(order_id=order.pk, to=S.CANCELLED, cause="cancelled", actor=actor)


def orders_expire_unpaid(*, now=None) -> int:
    """Cancel every order still awaiting payment after its payment window (the periodic
    task ``escrow.expire``). Returns how many were cancelled. A deposit confirmed later is
    still honoured (cancelled → funded, flagged)."""
    now = now or timezone.now()
    count = 0
    for order_id in Order.objects.filter(state=S.CREATED, pay_by__lt=now).values_list(
        "pk", flat=True
    ):
        try:
            order_transition(order_id=order_id, to=S.CANCELLED, cause="payment_window_passed")
            count += 1
        except InvalidTransition:
            continue  # funded meanwhile
    return count


def _step_check(order: Order, actor: User, role: str, states: Iterable[str]) -> None:
    if order.role_of(actor) != role:
        raise refuse(errors.NOT_YOUR_STEP, role=role)
    if order.state not in states:
        raise refuse(errors.WRONG_STATE, state=order.get_state_display())


def order_ship(
    *, order: Order, actor: User, tracking: str, files: Sequence[UploadedFile] = ()
) -> Order:
    """The seller says the order was sent, with tracking details and optional files.
    Raises ``EscrowError``: ``not_your_step``, ``wrong_state``, ``tracking_required``,
    and the file refusals."""
    _step_check(order, actor, "seller", {S.FUNDED})
    if not tracking.strip():
        raise refuse(errors.TRACKING_REQUIRED)
    with transaction.atomic():
        for upload in files:
            order_file_add(
                order=order, uploader=actor, purpose=OrderFile.Purpose.SHIPPING, upload=upload
            )
        return order_transition(
            order_id=order.pk,
            to=S.SHIPPED,
            cause="seller_shipped",
            actor=actor,
            fields={"tracking": tracking.strip()[:2000]},
        )


def order_confirm_delivery(*, order: Order, actor: User) -> Order:
    """The buyer says the goods arrived (or the service was done); releasing is their next
    step (``next_action``). Raises ``EscrowError``: ``not_your_step``, ``wrong_state``."""
    _step_check(order, actor, "buyer", {S.FUNDED, S.SHIPPED})
    return order_transition(
        order_id=order.pk, to=S.DELIVERED, cause="buyer_confirmed_delivery", actor=actor
    )


def order_message_add(
    *, order: Order, author: User, body: str, files: Sequence[UploadedFile] = ()
) -> OrderMessage:
    """Add to the order's conversation (a party, or staff). Raises ``EscrowError``:
    ``message_required``, ``message_too_long``, and the file refusals."""
    body = body.strip()
    if not body:
        raise refuse(errors.MESSAGE_REQUIRED)
    if len(body) > 4000:
        raise refuse(errors.MESSAGE_TOO_LONG)
    with transaction.atomic():
        message = OrderMessage.objects.create(
            order=order, author=author, body=body, staff=order.role_of(author) is None
        )
        for upload in files:
            message.files.add(
                order_file_add(
                    order=order, uploader=author, purpose=OrderFile.Purpose.MESSAGE, upload=upload
                )
            )
        for reader in (order.buyer, order.seller):
            if reader.pk != author.pk:
                notices.notify(
                    user=reader,
                    kind="order_message",
                    message=gettext_noop("New message on order %(order)s."),
                    params={"order": str(order.pk)[:8], "message": message.pk},
                    link=reverse("shop-order", args=[order.pk]),
                )
    group_send_on_commit(live_group(order.pk), {"type": "order.message", "id": message.pk})
    return message


def order_dispute_open(
    *, order: Order, actor: User, message: str, files: Sequence[UploadedFile] = ()
) -> OrderMessage:
    """A party states what went wrong; the dispute itself opens on chain (``next_action``
    gives the ``dispute`` transaction) and the order becomes disputed when it is
    confirmed. Raises ``EscrowError``: ``not_your_step``, ``wrong_state``,
    ``dispute_too_late``, ``message_required``."""
    if order.role_of(actor) is None:
        raise refuse(errors.NOT_YOUR_STEP, role="buyer or seller")
    if order.state not in {S.FUNDED, S.SHIPPED, S.DELIVERED, S.DISPUTED}:
        raise refuse(errors.WRONG_STATE, state=order.get_state_display())
    if order.state != S.DISPUTED:
        try:
            if onchain.chain_now(order.asset.network) >= order.release_at:
                raise refuse(errors.DISPUTE_TOO_LATE)
        except ChainUnavailable as exc:
            raise refuse(errors.CHAIN_UNAVAILABLE) from exc
    return order_message_add(order=order, author=actor, body=message, files=files)


def order_condition_tick(
    *, order: Order, actor: User, condition_id: int, files: Sequence[UploadedFile] = ()
) -> OrderCondition:
    """A party says a condition is met, with optional evidence files; each side ticks for
    itself. Raises ``EscrowError``: ``not_your_step``, ``wrong_state``,
    ``condition_unknown``."""
    role = order.role_of(actor)
    if role is None:
        raise refuse(errors.NOT_YOUR_STEP, role="buyer or seller")
    if order.state not in HELD_STATES:
        raise refuse(errors.WRONG_STATE, state=order.get_state_display())
    with transaction.atomic():
        condition = (
            OrderCondition.objects.select_for_update().filter(order=order, pk=condition_id).first()
        )
        if condition is None:
            raise refuse(errors.CONDITION_UNKNOWN)
        for upload in files:
            condition.evidence.add(
                order_file_add(
                    order=order, uploader=actor, purpose=OrderFile.Purpose.CONDITION, upload=upload
                )
            )
        field = "buyer_ok_at" if role == "buyer" else "seller_ok_at"
        if getattr(condition, field) is None:
            setattr(condition, field, timezone.now())
            condition.save(update_fields=[field])
    group_send_on_commit(live_group(order.pk), {"type": "order.condition", "id": condition.pk})
    return condition


_FILE_SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


def _sniff(head: bytes) -> str | None:
    """The content type from the file's own bytes (never from its name or header)."""
    for signature, content_type in _FILE_SIGNATURES.items():
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if b"\x00" not in head else None


def order_file_add(
    *, order: Order, uploader: User, purpose: str, upload: UploadedFile
) -> OrderFile:
    """Store a party's file in private storage (no URL; served by a view that checks the
    party), typed by its content (PDF, PNG, JPEG, WebP or UTF-8 text) and hashed.
    Raises ``EscrowError``: ``file_too_large``, ``invalid_file``."""
    if upload.size is None or upload.size > settings.ESCROW_FILE_MAX_BYTES:
        raise refuse(errors.FILE_TOO_LARGE)
    data = upload.read()
    content_type = _sniff(data[:4096])
    if content_type is None:
        raise refuse(errors.INVALID_FILE)
    stored = OrderFile(
        order=order,
        uploader=uploader,
        purpose=purpose,
        name=(upload.name or "file")[-120:],
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    stored.file.save(upload.name or "file", ContentFile(data), save=False)
    stored.save()
    return stored


def review_create(*, order: Order, buyer: User, rating: int, text: str = "") -> Review:
    """After release the buyer rates the seller, once. Raises ``EscrowError``:
    ``not_your_step``, ``wrong_state``, ``invalid_rating``, ``already_reviewed``."""
    _step_check(order, buyer, "buyer", {S.RELEASED})
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise refuse(errors.INVALID_RATING)
    with transaction.atomic():
        if Review.objects.filter(order=order).exists():
            raise refuse(errors.ALREADY_REVIEWED)
        return Review.objects.create(
            order=order, seller_id=order.seller_id, buyer=buyer, rating=rating, text=text.strip()
        )


# ------------------------------------------------------------------ arbitration


def order_resolve(*, order: Order, staff: User, buyer_share_bps: int, reason: str) -> Resolution:
    """Staff decide a disputed order: record the decision and its reason, then send the
    arbiter's ``resolve`` (the server's arbiter key, never the relayer's). The order
    becomes resolved when the watcher confirms it; both parties are told the split and
    why (a staff message on the order, and the notice of the resolved state).

    Raises ``EscrowError``: ``staff_only``, ``invalid_share``, ``reason_required``,
    ``wrong_state``, ``already_decided``, ``chain_unavailable``.
    """
    if not staff.is_staff:
        raise refuse(errors.STAFF_ONLY)
    if isinstance(buyer_share_bps, bool) or not 0 <= buyer_share_bps <= BPS:
        raise refuse(errors.INVALID_SHARE)
    if not reason.strip():
        raise refuse(errors.REASON_REQUIRED)
    if order.state != S.DISPUTED:
        raise refuse(errors.WRONG_STATE, state=order.get_state_display())
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=order.pk)
        if Resolution.objects.filter(order=order).exists():
            raise refuse(errors.ALREADY_DECIDED)
        resolution = Resolution.objects.create(
            order=order, buyer_share_bps=buyer_share_bps, reason=reason.strip(), decided_by=staff
        )
        pct = f"{buyer_share_bps / 100:g}"
        order_message_add(
            order=order,
            author=staff,
            body=f"Decision: {pct}% to the buyer, the rest to the seller. {reason.strip()}",
        )
        # Sent inside the transaction: if the send fails nothing is recorded and staff try
        # again; if the commit failed after a send, the resolve still lands on chain and the
        # watcher records it (the decision row is what is lost, and logged below).
        try:
            tx_hash = onchain.resolve_send(order, buyer_share_bps)
        except (ChainUnavailable, ValueError) as exc:
            raise refuse(errors.CHAIN_UNAVAILABLE) from exc
        resolution.tx_hash = tx_hash
        resolution.save(update_fields=["tx_hash"])
    logger.info(
        "escrow dispute decided",
        extra={"order": str(order.pk), "bps": buyer_share_bps, "tx_hash": tx_hash},
    )
    return resolution


def orders_release_due() -> int:
    """Send the relayer's release for every held, undisputed order whose release time has
    passed by its chain's clock (the periodic task ``escrow.release_due``; the contract pays
    the seller and the treasury whoever sends it). Once per order (``release_sent_tx``);
    one network's outage does not stop the others. Returns how many were sent."""
    held = Order.objects.filter(
        state__in=[S.FUNDED, S.SHIPPED, S.DELIVERED], release_sent_tx=""
    ).exclude(onchain_id="")
    sent = 0
    for network in held.values_list("asset__network", flat=True).distinct():
        try:
            clock = onchain.chain_now(network)
        except ChainUnavailable:
            logger.warning("escrow releases skipped", extra={"network": network})
            continue
        for order in held.filter(asset__network=network, release_at__lte=clock).select_related(
            "asset"
        ):
            try:
                tx_hash = onchain.release_send(order)
            except ChainUnavailable:
                logger.warning("escrow release not sent", extra={"order": str(order.pk)})
                continue
            if tx_hash:
                Order.objects.filter(pk=order.pk, release_sent_tx="").update(
                    release_sent_tx=tx_hash
                )
                sent += 1
    return sent


# What each party is told when an order ends a pass in a state: (buyer, seller) notices,
# English and marked for translation; None tells that party nothing (they did it).
NOTICES: dict[str, tuple[str | None, str | None]] = {
    S.FUNDED: (
        gettext_noop("Your payment for order %(order)s is held in the escrow."),
        gettext_noop("Order %(order)s is paid into the escrow: send it, then mark it shipped."),
    ),
    S.SHIPPED: (
        gettext_noop("Order %(order)s was shipped: confirm it when it has arrived."),
        None,
    ),
    S.DELIVERED: (
        None,
        gettext_noop("The buyer confirmed the delivery of order %(order)s."),
    ),
    S.RELEASED: (
        gettext_noop("Order %(order)s is complete: the payment went to the seller."),
        gettext_noop("Order %(order)s is released: %(amount)s to your payout address."),
    ),
    S.REFUNDED: (
        gettext_noop("Order %(order)s was refunded to you."),
        gettext_noop("Order %(order)s was refunded to the buyer."),
    ),
    S.DISPUTED: (
        gettext_noop("A dispute is open on order %(order)s: staff will decide it."),
        gettext_noop("A dispute is open on order %(order)s: staff will decide it."),
    ),
    S.RESOLVED: (
        gettext_noop(
            "The dispute on order %(order)s was decided: %(buyer_pct)s%% to the buyer. "
            "Why: %(reason)s"
        ),
        gettext_noop(
            "The dispute on order %(order)s was decided: %(buyer_pct)s%% to the buyer. "
            "Why: %(reason)s"
        ),
    ),
    S.CANCELLED: (
        gettext_noop("Order %(order)s was cancelled before payment."),
        gettext_noop("Order %(order)s was cancelled before payment."),
    ),
}


def notify_parties(*, order_id, state: str) -> None:
    """Tell the parties that the order is now in `state` (the task ``escrow.notify``): an
    in-app notice each (``accounts.notices``: the notification list, and e-mail to a
    verified address in the reader's language, as a swap's), except for the party whose own
    step it was. Nothing when the order has moved on (the later state has its notice);
    a notice already given for the same transition is not given again (a retried task)."""
    order = Order.objects.select_related("buyer", "seller", "asset").filter(pk=order_id).first()
    if order is None or order.state != state or state not in NOTICES:
        return
    event = order.events.filter(to_state=state).order_by("-created_at", "-pk").first()
    params: dict = {"order": str(order.pk)[:8], "event": event.pk if event else 0}
    if state == S.RELEASED:
        params["amount"] = (
            f"{format_plain(order.total - order.fee, order.asset.decimals)} {order.asset.symbol}"
        )
    if state == S.RESOLVED:
        resolution = Resolution.objects.filter(order=order).first()
        params["buyer_pct"] = format_plain(
            Decimal(resolution.buyer_share_bps if resolution else 0) / 100, 2
        )
        params["reason"] = resolution.reason if resolution else ""
    for user, message in zip((order.buyer, order.seller), NOTICES[state], strict=True):
        if message is None or (event is not None and event.actor_id == user.pk):
            continue
        notices.notify(
            user=user,
            kind=f"order_{state}",
            message=message,
            params=params,
            link=reverse("shop-order", args=[order.pk]),
        )
