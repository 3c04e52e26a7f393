"""Shop pages: the catalogue, a product, the cart with each seller's summary, orders (mine,
and one order with its timeline, countdown, next step, conversation and dispute), and the
seller's desk. Views parse forms and call selectors and services only."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from core.api.errors import ApiError
from core.decimals import format_plain
from escrow import selectors, services
from escrow.forms import (
    AddToCartForm,
    CheckoutForm,
    MessageForm,
    ProductForm,
    ReviewForm,
    SearchForm,
    ShipForm,
)
from escrow.models import HAPPY_PATH, Order


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _refused(request: HttpRequest, exc: ApiError) -> None:
    messages.error(request, str(exc.detail))


def catalogue(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    products = selectors.product_list(
        q=filters.get("q", ""),
        category=filters["category"].pk if filters.get("category") else None,
        kind=filters.get("kind", ""),
        region=filters.get("region", ""),
        in_stock=bool(filters.get("in_stock")),
        ordering=filters.get("ordering") or "newest",
    )[:60]
    ratings = selectors.seller_ratings({p.seller_id for p in products})
    rows = [
        {
            "product": p,
            "price": format_plain(p.price, p.asset.decimals),
            "rating": ratings[p.seller_id],
        }
        for p in products
    ]
    return render(request, "escrow/catalogue.html", {"form": form, "rows": rows})


@require_http_methods(["GET", "POST"])
def product(request: HttpRequest, product_id: int) -> HttpResponse:
    viewer = _user(request) if request.user.is_authenticated else None
    found = selectors.product_get(product_id, viewer=viewer)
    if found is None:
        raise Http404
    form = AddToCartForm(request.POST or None)
    if request.method == "POST":
        if viewer is None:
            return redirect(f"/accounts/login/?next={request.path}")
        if form.is_valid():
            try:
                services.cart_set(
                    buyer=viewer, product_id=found.pk, quantity=form.cleaned_data["quantity"]
                )
            except ApiError as exc:
                _refused(request, exc)
            else:
                messages.success(request, _("Added to your cart."))
                return redirect("shop-cart")
    return render(
        request,
        "escrow/product.html",
        {
            "product": found,
            "price": format_plain(found.price, found.asset.decimals),
            "shipping": format_plain(found.shipping_fee, found.asset.decimals),
            "rating": selectors.seller_rating(found.seller_id),
            "reviews": selectors.review_list(seller_id=found.seller_id)[:10],
            "form": form,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def cart(request: HttpRequest) -> HttpResponse:
    buyer = _user(request)
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            try:
                order = services.checkout(
                    buyer=buyer,
                    seller_id=form.cleaned_data["seller"],
                    refund_address=form.cleaned_data["refund_address"],
                )
            except ApiError as exc:
                _refused(request, exc)
            else:
                return redirect("shop-order", order_id=order.pk)
    groups = []
    for group in selectors.cart_groups(buyer=buyer):
        quote = None
        if len({i.product.asset_id for i in group.items}) == 1:
            q = services.order_quote(lines=[(i.product, i.quantity) for i in group.items])
            decimals = group.items[0].product.asset.decimals
            quote = {
                name: format_plain(getattr(q, name), decimals)
                for name in ("subtotal", "shipping_fee", "fee", "total")
            } | {"symbol": group.items[0].product.asset.symbol, "fee_pct": q.fee_bps / 100}
        groups.append(
            {
                "seller": group.seller,
                "items": group.items,
                "quote": quote,
                "form": CheckoutForm(initial={"seller": group.seller.pk}),
            }
        )
    return render(request, "escrow/cart.html", {"groups": groups})


@login_required
@require_POST
def cart_remove(request: HttpRequest, product_id: int) -> HttpResponse:
    services.cart_set(buyer=_user(request), product_id=product_id, quantity=0)
    return redirect("shop-cart")


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "escrow/orders.html",
        {
            "bought": selectors.order_list(user=user, role="buyer")[:50],
            "sold": selectors.order_list(user=user, role="seller")[:50],
        },
    )


def _order_or_404(request: HttpRequest, order_id) -> Order:
    order = selectors.order_get(order_id=order_id, user=_user(request))
    if order is None:
        raise Http404
    return order


@login_required
def order(request: HttpRequest, order_id) -> HttpResponse:
    found = _order_or_404(request, order_id)
    role = found.role_of(_user(request)) or ""
    reached = {e.to_state for e in found.events.all()}
    timeline = [
        {"state": s, "label": Order.State(s).label, "done": s in reached} for s in HAPPY_PATH
    ]
    decimals = found.asset.decimals
    next_action = selectors.order_next_action(order=found, role=role)
    dispute_tx = request.session.pop(f"escrow-dispute-{found.pk}", None)
    refund_tx = (
        selectors.order_refund_tx(order=found)
        if role == "seller" and found.state in {"funded", "shipped", "delivered", "disputed"}
        else None
    )
    return render(
        request,
        "escrow/order.html",
        {
            "order": found,
            "role": role,
            "timeline": timeline,
            "history": found.events.all(),
            "amounts": {
                name: format_plain(getattr(found, name), decimals)
                for name in ("subtotal", "shipping_fee", "fee", "total")
            },
            "next_action": next_action,
            "next_action_json": json.dumps(next_action),
            "conversation": found.messages.select_related("author").prefetch_related("files"),
            "files": found.files.all(),
            "ship_form": ShipForm(),
            "message_form": MessageForm(),
            "dispute_form": MessageForm(prefix="dispute"),
            "review_form": ReviewForm(),
            "held": found.state in {"funded", "shipped", "delivered"},
            "reviewed": hasattr(found, "review"),
            "dispute_tx": dispute_tx,
            "dispute_tx_json": json.dumps(dispute_tx),
            "refund_tx": refund_tx,
            "refund_tx_json": json.dumps(refund_tx),
        },
    )


@login_required
def order_file(request: HttpRequest, order_id, file_id: int) -> FileResponse:
    """A file of the order, for its parties only (staff read files in the admin)."""
    stored = _order_or_404(request, order_id).files.filter(pk=file_id).first()
    if stored is None:
        raise Http404
    response = FileResponse(stored.file.open("rb"), as_attachment=True, filename=stored.name)
    response["Content-Type"] = stored.content_type
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def order_step(request: HttpRequest, order_id, step: str) -> HttpResponse:
    """One form on the order page: ship, confirm, message, dispute, tick, review, cancel."""
    found = _order_or_404(request, order_id)
    user = _user(request)
    # The dispute form shares the message form's fields, under its own prefix (one page).
    prefix = "dispute" if step == "dispute" else None
    upload = request.FILES.get(f"{prefix}-file" if prefix else "file")
    files = [upload] if upload else []
    try:
        if step == "ship":
            ship = ShipForm(request.POST, request.FILES)
            if ship.is_valid():
                services.order_ship(
                    order=found, actor=user, tracking=ship.cleaned_data["tracking"], files=files
                )
        elif step == "confirm":
            services.order_confirm_delivery(order=found, actor=user)
        elif step in ("message", "dispute"):
            written = MessageForm(request.POST, request.FILES, prefix=prefix)
            if written.is_valid():
                text = written.cleaned_data["message"]
                if step == "dispute":
                    services.order_dispute_open(order=found, actor=user, message=text, files=files)
                    role = found.role_of(user) or ""
                    request.session[f"escrow-dispute-{found.pk}"] = selectors.order_dispute_tx(
                        order=found, role=role
                    )
                else:
                    services.order_message_add(order=found, author=user, body=text, files=files)
        elif step == "tick":
            services.order_condition_tick(
                order=found,
                actor=user,
                condition_id=int(request.POST.get("condition", "0") or 0),
                files=files,
            )
        elif step == "review":
            review = ReviewForm(request.POST)
            if review.is_valid():
                services.review_create(
                    order=found,
                    buyer=user,
                    rating=review.cleaned_data["rating"],
                    text=review.cleaned_data["text"],
                )
        elif step == "cancel":
            services.order_cancel(order=found, actor=user)
        else:
            raise Http404
    except ApiError as exc:
        _refused(request, exc)
    return redirect("shop-order", order_id=found.pk)


@login_required
@require_http_methods(["GET", "POST"])
def sell(request: HttpRequest) -> HttpResponse:
    """The seller's desk: a new product, their products, and orders to ship."""
    seller = _user(request)
    form = ProductForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = services.product_create(
                seller=seller,
                kind=data["kind"],
                title=data["title"],
                description=data["description"],
                category_id=data["category"].pk,
                unit=data["unit"],
                asset_id=int(data["asset"]),
                price=data["price"],
                shipping_fee=data["shipping_fee"] or Decimal(0),
                quantity_available=data["quantity_available"],
                payout_address=data["payout_address"],
                delivery_terms=data["delivery_terms"],
                region=data["region"],
                conditions=data["conditions"].splitlines(),
            )
            if data.get("image"):
                services.product_image_add(product=created, actor=seller, upload=data["image"])
        except ApiError as exc:
            _refused(request, exc)
        else:
            messages.success(request, _("Your product is in the catalogue."))
            return redirect("shop-product", product_id=created.pk)
    return render(
        request,
        "escrow/sell.html",
        {
            "form": form,
            "products": selectors.product_list(seller=seller.pk, include_hidden_for=seller),
            "to_ship": selectors.order_list(user=seller, role="seller", state="funded"),
        },
    )
