"""Escrow API at the paths issue 17 names under /api/v1/ (categories/, products/, cart/,
orders/, ...): the catalogue, the cart, orders and arbitration.

One view per operation; each parses input, calls one service or selector, shapes output.
Another user's order is a 404 everywhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from django.http import FileResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.api import idempotency
from core.api.idempotency import IDEMPOTENCY_KEY, idempotent
from core.api.refusals import by_status, refusal_response
from core.api.schema import UNAUTHENTICATED
from core.decimals import format_fixed, parse_decimal
from escrow import errors, selectors, services
from escrow.api.serializers import (
    CartItemInput,
    CartOutput,
    CategoryOutput,
    CheckoutInput,
    ImageInput,
    ImageOutput,
    OrderCreateInput,
    OrderDetailOutput,
    OrderMessageInput,
    OrderMessageOutput,
    OrderOutput,
    ProductInput,
    ProductOutput,
    ProductUpdateInput,
    ResolutionOutput,
    ResolveInput,
    ReviewInput,
    ReviewOutput,
    ShipInput,
    TickInput,
    order_detail_data,
)
from escrow.models import Order, Product

NOT_FOUND = refusal_response("Not yours or does not exist.", errors.NOT_FOUND)
MULTIPART = [JSONParser, MultiPartParser, FormParser]


def _documented(description: str, *refusals) -> dict:
    """``extend_schema`` responses for `refusals`, one entry per HTTP status."""
    return {
        code: refusal_response(description, *group) for code, group in by_status(*refusals).items()
    }


def _user(request: Request) -> User:
    return cast(User, request.user)


def _decimal(text: str | None, refusal=errors.INVALID_PRICE) -> Decimal:
    value = parse_decimal(text)
    if value is None:
        raise errors.refuse(refusal)
    return value


# ------------------------------------------------------------------ chains and catalogue


class CategoryListView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = CategoryOutput
    pagination_class = None

    def get_queryset(self):
        return selectors.category_list()

    @extend_schema(operation_id="escrow_categories", summary="Catalogue categories")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class ProductListCreateView(ListAPIView):
    serializer_class = ProductOutput

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else super().get_permissions()

    def get_queryset(self):
        p = self.request.query_params

        def number(name: str) -> int | None:
            value = p.get(name, "")
            return int(value) if value.isdigit() else None

        user = self.request.user
        mine = p.get("mine") == "true" and user.is_authenticated
        return selectors.product_list(
            q=p.get("q", "")[:200],
            category=number("category"),
            kind=p.get("kind", ""),
            region=p.get("region", "")[:80],
            asset=number("asset"),
            seller=user.pk if mine else number("seller"),
            price_min=parse_decimal(p.get("price_min")),
            price_max=parse_decimal(p.get("price_max")),
            in_stock=p.get("in_stock") == "true",
            ordering=p.get("ordering", "newest"),
            include_hidden_for=_user(self.request) if mine else None,
        )

    @extend_schema(
        operation_id="escrow_products_list",
        summary="The catalogue: search and filters",
        parameters=[
            OpenApiParameter("q", str, description="Words in the title or description."),
            OpenApiParameter("category", int),
            OpenApiParameter("kind", enum=Product.Kind.values),
            OpenApiParameter("region", str),
            OpenApiParameter("asset", int, description="Needed for the price filters."),
            OpenApiParameter("price_min", str),
            OpenApiParameter("price_max", str),
            OpenApiParameter("seller", int),
            OpenApiParameter("in_stock", bool),
            OpenApiParameter("mine", bool, description="Your products, inactive ones too."),
            OpenApiParameter("ordering", enum=["newest", "price", "-price", "rating"]),
        ],
        responses={200: ProductOutput(many=True)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="escrow_products_create",
        summary="Offer a product or service",
        request=ProductInput,
        examples=[
            OpenApiExample(
                "Rice, 2.5 TEST per kg",
                value={
                    "title": "Aromatic rice",
                    "category": 1,
                    "unit": "kg",
                    "price": "2.5",
                    "asset": 2,
                    "quantity_available": 100,
                    "payout_address": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
                },
                request_only=True,
            )
        ],
        responses={
            201: ProductOutput,
            401: UNAUTHENTICATED,
            **_documented("The product was refused.", *errors.PRODUCT_WRITE),
        },
    )
    def post(self, request: Request) -> Response:
        data = ProductInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        product = services.product_create(
            seller=_user(request),
            title=v["title"],
            description=v.get("description", ""),
            kind=v.get("kind", Product.Kind.PRODUCT),
            category_id=v["category"],
            unit=v["unit"],
            asset_id=v["asset"],
            price=_decimal(v["price"]),
            shipping_fee=_decimal(v.get("shipping_fee", "0")),
            quantity_available=v["quantity_available"],
            payout_address=v["payout_address"],
            delivery_terms=v.get("delivery_terms", ""),
            region=v.get("region", ""),
            conditions=v.get("conditions", []),
        )
        shown = selectors.product_get(product.pk, viewer=_user(request))
        return Response(ProductOutput(shown).data, status=status.HTTP_201_CREATED)


def _product(request: Request, product_id: int) -> Product:
    viewer = _user(request) if request.user.is_authenticated else None
    product = selectors.product_get(product_id, viewer=viewer)
    if product is None:
        raise errors.refuse(errors.NOT_FOUND)
    return product


class ProductDetailView(APIView):
    def get_permissions(self):
        return [AllowAny()] if self.request.method == "GET" else super().get_permissions()

    @extend_schema(
        operation_id="escrow_products_retrieve",
        summary="A product",
        responses={200: ProductOutput, 404: NOT_FOUND},
    )
    def get(self, request: Request, product_id: int) -> Response:
        return Response(ProductOutput(_product(request, product_id)).data)

    @extend_schema(
        operation_id="escrow_products_update",
        summary="Change your product (orders placed keep their terms)",
        request=ProductUpdateInput,
        responses={
            200: ProductOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("The change was refused.", *errors.PRODUCT_WRITE),
        },
    )
    def patch(self, request: Request, product_id: int) -> Response:
        product = _product(request, product_id)
        data = ProductUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "category" in changes:
            changes["category_id"] = changes.pop("category")
        for name in ("price", "shipping_fee"):
            if name in changes:
                changes[name] = _decimal(changes[name])
        services.product_update(product=product, actor=_user(request), **changes)
        return Response(ProductOutput(_product(request, product_id)).data)


class ProductImageView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="escrow_products_image",
        summary="Add an image (JPEG, PNG or WebP; re-encoded, metadata removed)",
        request={"multipart/form-data": ImageInput},
        responses={
            201: ImageOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented(
                "The image was refused.",
                errors.NOT_PRODUCT_SELLER,
                errors.FILE_TOO_LARGE,
                errors.INVALID_IMAGE,
                errors.TOO_MANY_IMAGES,
            ),
        },
    )
    def post(self, request: Request, product_id: int) -> Response:
        product = _product(request, product_id)
        data = ImageInput(data=request.data)
        data.is_valid(raise_exception=True)
        image = services.product_image_add(
            product=product, actor=_user(request), upload=data.validated_data["image"]
        )
        return Response(ImageOutput(image).data, status=status.HTTP_201_CREATED)


class SellerReviewsView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = ReviewOutput

    def get_queryset(self):
        return selectors.review_list(seller_id=self.kwargs["seller_id"])

    @extend_schema(operation_id="escrow_seller_reviews", summary="A seller's reviews")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


# ------------------------------------------------------------------ cart


def _quote_data(items) -> dict | None:
    if not items or len({i.product.asset_id for i in items}) != 1:
        return None
    quote = services.order_quote(lines=[(i.product, i.quantity) for i in items])
    decimals = items[0].product.asset.decimals
    return {
        "subtotal": format_fixed(quote.subtotal, decimals),
        "shipping_fee": format_fixed(quote.shipping_fee, decimals),
        "fee": format_fixed(quote.fee, decimals),
        "total": format_fixed(quote.total, decimals),
        "fee_bps": quote.fee_bps,
        "symbol": items[0].product.asset.symbol,
    }


class CartView(APIView):
    @extend_schema(
        operation_id="escrow_cart",
        summary="Your cart, one group per seller, with each group's summary before paying",
        responses={200: CartOutput(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        groups = selectors.cart_groups(buyer=_user(request))
        return Response(
            [
                {
                    "seller": {"id": g.seller.pk, "name": g.seller.public_name},
                    "items": [
                        {"product": i.product_id, "title": i.product.title, "quantity": i.quantity}
                        for i in g.items
                    ],
                    "quote": _quote_data(g.items),
                }
                for g in groups
            ]
        )


class CartItemView(APIView):
    @extend_schema(
        operation_id="escrow_cart_set",
        summary="Put a quantity of a product in your cart (0 removes it)",
        request=CartItemInput,
        responses={
            204: None,
            401: UNAUTHENTICATED,
            **_documented(
                "Refused.", errors.PRODUCT_UNAVAILABLE, errors.OWN_PRODUCT, errors.INVALID_QUANTITY
            ),
        },
    )
    def put(self, request: Request, product_id: int) -> Response:
        data = CartItemInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.cart_set(
            buyer=_user(request), product_id=product_id, quantity=data.validated_data["quantity"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CheckoutView(APIView):
    @extend_schema(
        operation_id="escrow_checkout",
        summary="Order your cart items from one seller (one order per seller)",
        request=CheckoutInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: OrderDetailOutput,
            401: UNAUTHENTICATED,
            **_documented("The order was refused.", *errors.ORDER_CREATE, *idempotency.REFUSALS),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.checkout(
            buyer=_user(request),
            seller_id=data.validated_data["seller"],
            refund_address=data.validated_data["refund_address"],
        )
        return Response(_detail(request, order.pk), status=status.HTTP_201_CREATED)


# ------------------------------------------------------------------ orders


def _party_or_staff_order(request: Request, order_id) -> Order:
    """The order for a party, or for staff (the arbitration desk reads and writes the
    conversation); a 404 for everyone else."""
    user = _user(request)
    if user.is_staff:
        order = selectors.order_get_for_staff(order_id=order_id)
        if order is None:
            raise errors.refuse(errors.NOT_FOUND)
        return order
    return _own_order(request, order_id)


def _own_order(request: Request, order_id) -> Order:
    order = selectors.order_get(order_id=order_id, user=_user(request))
    if order is None:
        raise errors.refuse(errors.NOT_FOUND)
    return order


def _detail(request: Request, order_id, order: Order | None = None) -> dict:
    return order_detail_data(order or _own_order(request, order_id), user=_user(request))


class OrderListCreateView(ListAPIView):
    serializer_class = OrderOutput

    def get_queryset(self):
        p = self.request.query_params
        return selectors.order_list(
            user=_user(self.request), role=p.get("role", ""), state=p.get("state", "")
        )

    @extend_schema(
        operation_id="escrow_orders_list",
        summary="Your orders, as buyer and as seller",
        parameters=[
            OpenApiParameter("role", enum=["buyer", "seller"], required=False),
            OpenApiParameter("state", enum=Order.State.values, required=False),
        ],
        responses={200: OrderOutput(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="escrow_orders_create",
        summary="Order a product: the terms, and the first transaction to send",
        description=(
            "Takes the stock at once. `total` = `subtotal` + `shipping_fee` + `fee` is what "
            "you deposit; `next_action` is an ERC-20 `approve` when needed, then `deposit`."
        ),
        request=OrderCreateInput,
        parameters=[IDEMPOTENCY_KEY],
        examples=[
            OpenApiExample(
                "Two units",
                value={
                    "product": 7,
                    "quantity": 2,
                    "refund_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                },
                request_only=True,
            )
        ],
        responses={
            201: OrderDetailOutput,
            401: UNAUTHENTICATED,
            **_documented("The order was refused.", *errors.ORDER_CREATE, *idempotency.REFUSALS),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = OrderCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        order = services.order_create(
            buyer=_user(request),
            lines=[(v["product"], v["quantity"])],
            refund_address=v["refund_address"],
        )
        return Response(_detail(request, order.pk), status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    @extend_schema(
        operation_id="escrow_orders_retrieve",
        summary="An order of yours: its history and your next action",
        responses={200: OrderDetailOutput, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, order_id) -> Response:
        return Response(_detail(request, order_id))


def _step_schema(operation_id: str, summary: str, request, *refusals) -> dict:
    return {
        "operation_id": operation_id,
        "summary": summary,
        "request": request,
        "parameters": [IDEMPOTENCY_KEY],
        "responses": {
            200: OrderDetailOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("Refused.", *errors.STEP, *refusals, *idempotency.REFUSALS),
        },
    }


class OrderCancelView(APIView):
    @extend_schema(
        **_step_schema(
            "escrow_orders_cancel", "Cancel an order not yet paid", None, errors.CHAIN_UNAVAILABLE
        )
    )
    @idempotent
    def post(self, request: Request, order_id) -> Response:
        order = services.order_cancel(order=_own_order(request, order_id), actor=_user(request))
        return Response(_detail(request, order.pk))


class OrderShipView(APIView):
    parser_classes = MULTIPART

    @extend_schema(
        **_step_schema(
            "escrow_orders_ship",
            "The seller sent the order (tracking details, optional files)",
            ShipInput,
            errors.TRACKING_REQUIRED,
            errors.FILE_TOO_LARGE,
            errors.INVALID_FILE,
        )
    )
    @idempotent
    def post(self, request: Request, order_id) -> Response:
        own = _own_order(request, order_id)
        data = ShipInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_ship(
            order=own,
            actor=_user(request),
            tracking=data.validated_data["tracking"],
            files=data.validated_data.get("files", []),
        )
        return Response(_detail(request, order.pk))


class OrderConfirmView(APIView):
    @extend_schema(
        **_step_schema(
            "escrow_orders_confirm",
            "The buyer confirms delivery; the answer's next_action is the release",
            None,
        )
    )
    @idempotent
    def post(self, request: Request, order_id) -> Response:
        order = services.order_confirm_delivery(
            order=_own_order(request, order_id), actor=_user(request)
        )
        return Response(_detail(request, order.pk))


class OrderDisputeView(APIView):
    parser_classes = MULTIPART

    @extend_schema(
        operation_id="escrow_orders_dispute",
        summary="Say what went wrong; the answer is the on-chain dispute transaction to send",
        request=OrderMessageInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: None,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented(
                "Refused.",
                *errors.STEP,
                errors.DISPUTE_TOO_LATE,
                errors.MESSAGE_REQUIRED,
                errors.MESSAGE_TOO_LONG,
                errors.CHAIN_UNAVAILABLE,
                *idempotency.REFUSALS,
            ),
        },
    )
    @idempotent
    def post(self, request: Request, order_id) -> Response:
        order = _own_order(request, order_id)
        data = OrderMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_dispute_open(
            order=order,
            actor=_user(request),
            message=data.validated_data["message"],
            files=data.validated_data.get("files", []),
        )
        role = order.role_of(_user(request)) or ""
        return Response({"next_action": selectors.order_dispute_tx(order=order, role=role)})


class OrderRefundView(APIView):
    @extend_schema(
        operation_id="escrow_orders_refund",
        summary="The seller's voluntary full refund: the transaction to send",
        request=None,
        responses={200: None, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def post(self, request: Request, order_id) -> Response:
        order = _own_order(request, order_id)
        if order.role_of(_user(request)) != "seller":
            raise errors.refuse(errors.NOT_YOUR_STEP, role="seller")
        return Response({"next_action": selectors.order_refund_tx(order=order)})


class OrderMessagesView(APIView):
    parser_classes = MULTIPART

    @extend_schema(
        operation_id="escrow_orders_messages",
        summary="The order's conversation",
        responses={200: OrderMessageOutput(many=True), 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, order_id) -> Response:
        order = _party_or_staff_order(request, order_id)
        return Response(
            OrderMessageOutput(order.messages.prefetch_related("files"), many=True).data
        )

    @extend_schema(
        operation_id="escrow_orders_message_add",
        summary="Write in the order's conversation (with files)",
        request=OrderMessageInput,
        responses={
            201: OrderMessageOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented(
                "Refused.",
                errors.MESSAGE_REQUIRED,
                errors.MESSAGE_TOO_LONG,
                errors.FILE_TOO_LARGE,
                errors.INVALID_FILE,
            ),
        },
    )
    def post(self, request: Request, order_id) -> Response:
        order = _party_or_staff_order(request, order_id)
        data = OrderMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.order_message_add(
            order=order,
            author=_user(request),
            body=data.validated_data["message"],
            files=data.validated_data.get("files", []),
        )
        return Response(OrderMessageOutput(message).data, status=status.HTTP_201_CREATED)


class OrderConditionTickView(APIView):
    parser_classes = MULTIPART

    @extend_schema(
        **_step_schema(
            "escrow_orders_condition_tick",
            "Say a condition is met (with evidence files)",
            TickInput,
            errors.CONDITION_UNKNOWN,
        )
    )
    @idempotent
    def post(self, request: Request, order_id, condition_id: int) -> Response:
        order = _own_order(request, order_id)
        data = TickInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_condition_tick(
            order=order,
            actor=_user(request),
            condition_id=condition_id,
            files=data.validated_data.get("files", []),
        )
        return Response(_detail(request, order.pk))


class OrderReviewView(APIView):
    @extend_schema(
        operation_id="escrow_orders_review",
        summary="Rate the seller after release (1–5 and text)",
        request=ReviewInput,
        responses={
            201: ReviewOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("Refused.", *errors.STEP, errors.INVALID_RATING, errors.ALREADY_REVIEWED),
        },
    )
    def post(self, request: Request, order_id) -> Response:
        order = _own_order(request, order_id)
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        review = services.review_create(
            order=order,
            buyer=_user(request),
            rating=data.validated_data["rating"],
            text=data.validated_data.get("text", ""),
        )
        return Response(ReviewOutput(review).data, status=status.HTTP_201_CREATED)


class OrderFileView(APIView):
    @extend_schema(
        operation_id="escrow_orders_file",
        summary="Download a file of the order (parties and staff only)",
        responses={(200, "application/octet-stream"): bytes, 404: NOT_FOUND},
    )
    def get(self, request: Request, order_id, file_id: int):
        order = _party_or_staff_order(request, order_id)
        stored = order.files.filter(pk=file_id).first()
        if stored is None:
            raise errors.refuse(errors.NOT_FOUND)
        response = FileResponse(stored.file.open("rb"), as_attachment=True, filename=stored.name)
        response["Content-Type"] = stored.content_type
        response["X-Content-Type-Options"] = "nosniff"
        return response


class OrderResolveView(APIView):
    @extend_schema(
        operation_id="escrow_orders_resolve",
        summary="Staff decide a disputed order: the buyer's share and why",
        description=(
            "Sends the arbiter's `resolve` with the server's arbiter key (the admin's "
            "action does the same). The order becomes `resolved` when it is confirmed."
        ),
        request=ResolveInput,
        responses={
            201: ResolutionOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("Refused.", *errors.RESOLVE, errors.CHAIN_UNAVAILABLE),
        },
    )
    def post(self, request: Request, order_id) -> Response:
        user = _user(request)
        if not user.is_staff:
            # Parties learn nothing from this endpoint; others get the usual 404.
            if selectors.order_get(order_id=order_id, user=user) is None:
                raise errors.refuse(errors.NOT_FOUND)
            raise errors.refuse(errors.STAFF_ONLY)
        order = selectors.order_get_for_staff(order_id=order_id)
        if order is None:
            raise errors.refuse(errors.NOT_FOUND)
        data = ResolveInput(data=request.data)
        if not data.is_valid():
            raise errors.refuse(errors.INVALID_SHARE)
        pct = data.validated_data["buyer_share_pct"]
        if not 0 <= pct <= 100:
            raise errors.refuse(errors.INVALID_SHARE)
        resolution = services.order_resolve(
            order=order,
            staff=user,
            buyer_share_bps=int(pct * 100),
            reason=data.validated_data["reason"],
        )
        return Response(ResolutionOutput(resolution).data, status=status.HTTP_201_CREATED)
