"""Every named read of the escrow app, and each party's next step on an order."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Avg, Count, Prefetch, Q, QuerySet

from accounts.models import User
from accounts.profile_sections import Section
from chains.interface import ChainUnavailable, TxRequest
from core.decimals import format_plain
from escrow import onchain
from escrow.models import (
    CartItem,
    Category,
    Order,
    OrderEvent,
    OrderMessage,
    Product,
    Review,
)
from escrow.onchain import EscrowState

S = Order.State


# ------------------------------------------------------------------ catalogue


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def product_list(
    *,
    q: str = "",
    category: int | None = None,
    kind: str = "",
    region: str = "",
    asset: int | None = None,
    seller: int | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    in_stock: bool = False,
    ordering: str = "newest",
    include_hidden_for: User | None = None,
) -> QuerySet[Product]:
    """The catalogue: active, visible products (a seller also sees their own inactive ones
    with ``include_hidden_for``), filtered and ordered (``newest``, ``price``, ``-price``,
    ``rating``). ``q``: every word as a prefix, PostgreSQL full text over title and
    description there; on SQLite the whole text as a case-insensitive substring. Prices
    compare within one asset only, so the price filters need ``asset``."""
    qs = Product.objects.select_related("category", "asset", "seller").prefetch_related(
        "images", "conditions"
    )
    visible = Q(active=True, hidden_reason="")
    if include_hidden_for is not None:
        visible |= Q(seller=include_hidden_for)
    qs = qs.filter(visible)
    words = re.findall(r"\w+", q)[:8]
    if words:
        if connection.vendor == "postgresql":
            from django.contrib.postgres.search import SearchQuery, SearchVector

            # Every word as a prefix ("jack" finds "jackfruit"), with the "simple"
            # configuration: no English stemming of Bengali or mixed titles.
            prefixes = " & ".join(f"{w}:*" for w in words)
            qs = qs.annotate(search=SearchVector("title", "description", config="simple")).filter(
                search=SearchQuery(prefixes, search_type="raw", config="simple")
            )
        else:
            qs = qs.filter(Q(title__icontains=q) | Q(description__icontains=q))
    if category:
        qs = qs.filter(category_id=category)
    if kind:
        qs = qs.filter(kind=kind)
    if region:
        qs = qs.filter(region__icontains=region)
    if asset:
        qs = qs.filter(asset_id=asset)
        if price_min is not None:
            qs = qs.filter(price__gte=price_min)
        if price_max is not None:
            qs = qs.filter(price__lte=price_max)
    if seller:
        qs = qs.filter(seller_id=seller)
    if in_stock:
        qs = qs.filter(quantity_available__gt=0)
    if ordering == "price":
        return qs.order_by("price", "-pk")
    if ordering == "-price":
        return qs.order_by("-price", "-pk")
    if ordering == "rating":
        return qs.annotate(seller_rating=Avg("seller__escrow_reviews__rating", default=0)).order_by(
            "-seller_rating", "-pk"
        )
    return qs.order_by("-created_at", "-pk")


def product_get(product_id: int, *, viewer: User | None = None) -> Product | None:
    """A product anyone may see (its seller also sees it inactive), or None."""
    return product_list(include_hidden_for=viewer).filter(pk=product_id).first()


@dataclass(frozen=True)
class SellerRating:
    average: Decimal | None  # one decimal place; None without reviews
    count: int


def seller_rating(seller_id: int) -> SellerRating:
    """The seller's reviews: average (1–5, one place) and count."""
    agg = Review.objects.filter(seller_id=seller_id).aggregate(avg=Avg("rating"), n=Count("pk"))
    avg = agg["avg"]
    return SellerRating(
        average=None if avg is None else Decimal(str(round(avg, 1))), count=agg["n"] or 0
    )


def seller_ratings(seller_ids: set[int]) -> dict[int, SellerRating]:
    """``seller_rating`` for many sellers in one query."""
    rows = (
        Review.objects.filter(seller_id__in=seller_ids)
        .values("seller_id")
        .annotate(avg=Avg("rating"), n=Count("pk"))
    )
    found = {r["seller_id"]: SellerRating(Decimal(str(round(r["avg"], 1))), r["n"]) for r in rows}
    return {pk: found.get(pk, SellerRating(None, 0)) for pk in seller_ids}


def review_list(*, seller_id: int) -> QuerySet[Review]:
    return Review.objects.filter(seller_id=seller_id).select_related("buyer")


PROFILE_REVIEWS = 5  # the latest reviews a seller's public page shows


def seller_public_section(user: User) -> Section | None:
    """The shop part of `user`'s public page: rating, review count, the latest reviews and
    a link to their products; nothing for someone who never sold here."""
    rating = seller_rating(user.pk)
    has_products = Product.objects.filter(seller_id=user.pk).exists()
    if rating.count == 0 and not has_products:
        return None
    return Section(
        "escrow/_seller_section.html",
        {
            "seller": user,
            "rating": rating,
            "reviews": list(review_list(seller_id=user.pk)[:PROFILE_REVIEWS]),
        },
    )


# ------------------------------------------------------------------ cart


@dataclass(frozen=True)
class CartGroup:
    """The cart items of one seller: they become one order at checkout."""

    seller: User
    items: list[CartItem]


def cart_groups(*, buyer: User) -> list[CartGroup]:
    """The buyer's cart, one group per seller (in the order items were added)."""
    groups: dict[int, CartGroup] = {}
    items = CartItem.objects.filter(buyer=buyer).select_related("product__seller", "product__asset")
    for item in items:
        seller = item.product.seller
        groups.setdefault(seller.pk, CartGroup(seller, [])).items.append(item)
    return list(groups.values())


# ------------------------------------------------------------------ orders


def _orders() -> QuerySet[Order]:
    return Order.objects.select_related("asset", "buyer", "seller").prefetch_related(
        "lines",
        "conditions",
        Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
    )


def order_list(*, user: User, role: str = "", state: str = "") -> QuerySet[Order]:
    """The user's orders as buyer or seller (or one ``role``), newest first."""
    qs = _orders()
    if role == "buyer":
        qs = qs.filter(buyer=user)
    elif role == "seller":
        qs = qs.filter(seller=user)
    else:
        qs = qs.filter(Q(buyer=user) | Q(seller=user))
    return qs.filter(state=state) if state else qs


def order_get(*, order_id, user: User) -> Order | None:
    """An order of which `user` is a party, or None (so that others get a 404)."""
    return order_list(user=user).filter(pk=order_id).first()


def order_state_get(*, order_id, user: User) -> str | None:
    """The state of an order of which `user` is a party (one small query), or None."""
    return order_list(user=user).filter(pk=order_id).values_list("state", flat=True).first()


def order_message_get(*, order_id, message_id: int, user: User) -> OrderMessage | None:
    """A message of an order of which `user` is a party, with its author and files."""
    if not order_list(user=user).filter(pk=order_id).exists():
        return None
    return (
        OrderMessage.objects.select_related("author")
        .prefetch_related("files")
        .filter(order_id=order_id, pk=message_id)
        .first()
    )


def order_get_for_staff(*, order_id) -> Order | None:
    return _orders().filter(pk=order_id).first()


def orders_release_overdue(*, now: float | None = None) -> QuerySet[Order]:
    """Held, undisputed orders still not released ``ESCROW_RELEASE_OVERDUE_SECONDS`` after
    their release time: the relayer's automatic release (``escrow.release_due``) was not
    sent (``release_sent_tx`` empty: no key, chain down) or is not confirmed (sent, stuck).
    Measured by the server's clock, which a chain's follows (not on a time-travelled anvil).
    """
    now = time.time() if now is None else now
    return _orders().filter(
        state__in=[S.FUNDED, S.SHIPPED, S.DELIVERED],
        release_at__lte=int(now) - settings.ESCROW_RELEASE_OVERDUE_SECONDS,
    )


def order_state_counts() -> dict[str, int]:
    """Number of orders per state (one grouped query)."""
    rows = Order.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    return dict(rows)


def arbitration_queue() -> QuerySet[Order]:
    """Disputed orders with no decision yet, oldest first: the staff desk."""
    return _orders().filter(state=S.DISPUTED, resolution__isnull=True).order_by("state_changed_at")


# ------------------------------------------------------------------ next action

NOTHING = {"action": "none", "message": "Nothing left to do."}


def _wait(reason: str, message: str) -> dict:
    return {"action": "wait", "reason": reason, "message": message}


def _tx(action: str, message: str, tx: TxRequest, **extra) -> dict:
    return {"action": action, "message": message, **tx.as_dict(), **extra}


def order_next_action(*, order: Order, role: str) -> dict:
    """What `role` ("buyer" or "seller") should do now, with the exact transaction to send.

    ``action`` is approve, deposit, release, ship, confirm, wait or none; a step with a
    transaction carries ``network``, ``chain_id``, ``to``, ``data``, ``value`` (wei, as a
    string) and ``from`` at the top level, as a swap's does. Money moves only by a
    transaction the party sends (or the relayer's release after the release time); the
    state follows when the watcher confirms it. Steps that depend on the chain read it (the
    allowance, a deposit or release already mined); a chain that cannot be reached means
    ``wait``. ``dispute`` and ``refund`` transactions are offered apart
    (``order_dispute_tx``, ``order_refund_tx``)."""
    try:
        return _next_action(order, role)
    except ChainUnavailable:
        return _wait("chain_unavailable", "The chain cannot be reached; try again shortly.")


def _amount_text(order: Order, value: Decimal) -> str:
    return f"{format_plain(value, order.asset.decimals)} {order.asset.symbol}"


def _next_action(order: Order, role: str) -> dict:
    state = order.state
    if state in (S.RELEASED, S.REFUNDED, S.RESOLVED):
        return dict(NOTHING)
    if state == S.CANCELLED:
        return dict(NOTHING)
    if state == S.CREATED:
        if role != "buyer":
            return _wait("buyer_payment", "Waiting for the buyer to pay into the escrow.")
        if onchain.network(order.asset.network) is None:
            return _wait("network_unavailable", "This network is not available right now.")
        if onchain.on_chain(order) is not None:
            return _wait(
                "deposit_confirming", "Your deposit is on chain; waiting for confirmations."
            )
        total = _amount_text(order, order.total)
        if onchain.allowance_short(order):
            return _tx(
                "approve",
                f"Allow the escrow to take {total} from {order.buyer_address}.",
                onchain.approve_tx(order),
                **{"from": order.buyer_address},
            )
        return _tx(
            "deposit",
            f"Pay {total} into the escrow from {order.buyer_address}.",
            onchain.deposit_tx(order),
            **{"from": order.buyer_address},
        )
    if state == S.DISPUTED:
        return _wait(
            "arbitration", "The dispute is with the arbiter; you will be told the outcome."
        )
    # funded, shipped, delivered: the money is held
    if _release_mined(order):
        return _wait("release_confirming", "The release is on chain; waiting for confirmations.")
    if role == "seller":
        if state == S.FUNDED:
            return {
                "action": "ship",
                "message": "Send the order, then say how it was sent (tracking details).",
            }
        return _wait("buyer_release", "Waiting for the buyer to confirm and release.")
    if state in (S.FUNDED, S.SHIPPED):
        return {
            "action": "confirm",
            "message": "When the order has arrived and is as agreed, confirm the delivery.",
        }
    seller_part = _amount_text(order, order.total - order.fee)
    return _tx(
        "release",
        f"Release the payment: {seller_part} to the seller and the fee to the platform.",
        onchain.release_tx(order),
        **{"from": order.buyer_address},
    )


def _release_mined(order: Order) -> bool:
    found = onchain.on_chain(order) if order.onchain_id else None
    return found is not None and found.state in (
        EscrowState.RELEASED,
        EscrowState.REFUNDED,
        EscrowState.RESOLVED,
    )


def order_dispute_tx(*, order: Order, role: str) -> dict:
    """The ``dispute`` transaction for a party of a held order (the API's dispute answer)."""
    if order.state not in (S.FUNDED, S.SHIPPED, S.DELIVERED) or not order.onchain_id:
        return _wait("not_disputable", "This order cannot be disputed now.")
    sender = order.buyer_address if role == "buyer" else order.seller_address
    try:
        return _tx(
            "dispute",
            f"Open the dispute on chain from {sender}; the automatic release stops.",
            onchain.dispute_tx(order),
            **{"from": sender},
        )
    except ChainUnavailable:
        return _wait("chain_unavailable", "The chain cannot be reached; try again shortly.")


def order_refund_tx(*, order: Order) -> dict:
    """The seller's voluntary full refund of a held order."""
    if order.state not in (S.FUNDED, S.SHIPPED, S.DELIVERED, S.DISPUTED) or not order.onchain_id:
        return _wait("not_refundable", "This order cannot be refunded now.")
    try:
        return _tx(
            "refund",
            f"Give the buyer back {_amount_text(order, order.total)} from {order.seller_address}.",
            onchain.refund_tx(order),
            **{"from": order.seller_address},
        )
    except ChainUnavailable:
        return _wait("chain_unavailable", "The chain cannot be reached; try again shortly.")
