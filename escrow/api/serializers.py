"""Escrow API shapes. Amounts travel as decimal strings with the asset's places; field names
are a contract (issue 17)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chains import selectors as chain_selectors
from core.decimals import format_fixed
from escrow import selectors
from escrow.models import (
    Category,
    Order,
    OrderCondition,
    OrderEvent,
    OrderFile,
    OrderLine,
    OrderMessage,
    Product,
    ProductImage,
    Review,
)

# ------------------------------------------------------------------ input


class ProductInput(serializers.Serializer):
    title = serializers.CharField(max_length=120)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Product.Kind.choices, required=False)
    category = serializers.IntegerField(min_value=1, help_text="A category id.")
    unit = serializers.ChoiceField(choices=Product.Unit.choices)
    # Strings, never floats: parsed as Decimal and checked against the asset's decimals.
    price = serializers.CharField(max_length=80, help_text="Per unit, in `asset`.")
    shipping_fee = serializers.CharField(max_length=80, required=False, help_text="Per order.")
    asset = serializers.IntegerField(min_value=1, help_text="An asset id (/api/v1/assets/).")
    quantity_available = serializers.IntegerField(min_value=0, max_value=10**9)
    payout_address = serializers.CharField(max_length=42)
    delivery_terms = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    region = serializers.CharField(max_length=80, required=False, allow_blank=True)
    conditions = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, max_length=20
    )


class ProductUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    category = serializers.IntegerField(min_value=1, required=False)
    unit = serializers.ChoiceField(choices=Product.Unit.choices, required=False)
    price = serializers.CharField(max_length=80, required=False)
    shipping_fee = serializers.CharField(max_length=80, required=False)
    quantity_available = serializers.IntegerField(min_value=0, max_value=10**9, required=False)
    payout_address = serializers.CharField(max_length=42, required=False)
    delivery_terms = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    region = serializers.CharField(max_length=80, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class ImageInput(serializers.Serializer):
    image = serializers.FileField()


class OrderCreateInput(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=10**9)
    refund_address = serializers.CharField(
        max_length=42, help_text="Your address: refunds and your share of a resolution go here."
    )


class CartItemInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=0, max_value=10**9, help_text="0 removes it.")


class CheckoutInput(serializers.Serializer):
    seller = serializers.IntegerField(min_value=1, help_text="The seller whose items to order.")
    refund_address = serializers.CharField(max_length=42)


class ShipInput(serializers.Serializer):
    tracking = serializers.CharField(max_length=2000, allow_blank=True)
    files = serializers.ListField(child=serializers.FileField(), required=False, max_length=5)


class OrderMessageInput(serializers.Serializer):
    message = serializers.CharField(max_length=4000, allow_blank=True)
    files = serializers.ListField(child=serializers.FileField(), required=False, max_length=5)


class TickInput(serializers.Serializer):
    files = serializers.ListField(child=serializers.FileField(), required=False, max_length=5)


class ReviewInput(serializers.Serializer):
    rating = serializers.IntegerField(help_text="1 to 5.")
    text = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ResolveInput(serializers.Serializer):
    buyer_share_pct = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text="0 to 100; the seller gets the rest."
    )
    reason = serializers.CharField(max_length=4000, allow_blank=True)


# ------------------------------------------------------------------ output


class CategoryOutput(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name"]


class SellerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="public_name")


class ImageOutput(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "url", "width", "height"]

    def get_url(self, obj: ProductImage) -> str:
        return obj.image.url


class ProductOutput(serializers.ModelSerializer):
    category = serializers.IntegerField(source="category_id")
    asset = serializers.IntegerField(source="asset_id")
    price = serializers.SerializerMethodField()
    shipping_fee = serializers.SerializerMethodField()
    seller = SellerOutput()
    images = ImageOutput(many=True)
    conditions: serializers.RelatedField = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="text"
    )
    symbol = serializers.CharField(source="asset.symbol")
    network = serializers.CharField(source="asset.network")

    class Meta:
        model = Product
        fields = [
            "id",
            "kind",
            "title",
            "description",
            "category",
            "unit",
            "price",
            "shipping_fee",
            "asset",
            "symbol",
            "network",
            "quantity_available",
            "payout_address",
            "delivery_terms",
            "region",
            "conditions",
            "images",
            "seller",
            "active",
            "created_at",
        ]

    def get_price(self, obj: Product) -> str:
        return format_fixed(obj.price, obj.asset.decimals)

    def get_shipping_fee(self, obj: Product) -> str:
        return format_fixed(obj.shipping_fee, obj.asset.decimals)


class OrderLineOutput(serializers.ModelSerializer):
    unit_price = serializers.SerializerMethodField()
    line_total = serializers.SerializerMethodField()

    class Meta:
        model = OrderLine
        fields = ["product", "title", "unit", "unit_price", "quantity", "line_total"]

    def get_unit_price(self, obj: OrderLine) -> str:
        return format_fixed(obj.unit_price, obj.order.asset.decimals)

    def get_line_total(self, obj: OrderLine) -> str:
        return format_fixed(obj.line_total, obj.order.asset.decimals)


class OrderEventOutput(serializers.ModelSerializer):
    explorer_url = serializers.SerializerMethodField()
    party = serializers.SerializerMethodField(help_text="buyer, seller, staff or null (chain).")

    class Meta:
        model = OrderEvent
        fields = [
            "from_state",
            "to_state",
            "cause",
            "party",
            "network",
            "tx_hash",
            "block",
            "explorer_url",
            "created_at",
        ]

    def get_party(self, obj: OrderEvent) -> str | None:
        if obj.actor_id is None:
            return None
        return {obj.order.buyer_id: "buyer", obj.order.seller_id: "seller"}.get(
            obj.actor_id, "staff"
        )

    def get_explorer_url(self, obj: OrderEvent) -> str:
        return chain_selectors.explorer_tx_url(network=obj.network, tx_hash=obj.tx_hash)


class FileOutput(serializers.ModelSerializer):
    class Meta:
        model = OrderFile
        fields = ["id", "purpose", "name", "content_type", "size", "sha256", "created_at"]


class ConditionOutput(serializers.ModelSerializer):
    evidence = FileOutput(many=True)

    class Meta:
        model = OrderCondition
        fields = ["id", "text", "buyer_ok_at", "seller_ok_at", "met", "evidence"]


class OrderMessageOutput(serializers.ModelSerializer):
    author = serializers.CharField(source="author.public_name")
    files = FileOutput(many=True)

    class Meta:
        model = OrderMessage
        fields = ["id", "author", "staff", "body", "files", "created_at"]


class OrderOutput(serializers.ModelSerializer):
    """An order in a list (no chain reads)."""

    subtotal = serializers.SerializerMethodField()
    shipping_fee = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    asset = serializers.IntegerField(source="asset_id")
    symbol = serializers.CharField(source="asset.symbol")
    network = serializers.CharField(source="asset.network")
    buyer = SellerOutput()
    seller = SellerOutput()
    lines = OrderLineOutput(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "state",
            "buyer",
            "seller",
            "lines",
            "asset",
            "symbol",
            "network",
            "subtotal",
            "shipping_fee",
            "fee",
            "fee_bps",
            "total",
            "buyer_address",
            "seller_address",
            "ref",
            "onchain_id",
            "release_at",
            "pay_by",
            "tracking",
            "flag_reason",
            "created_at",
            "state_changed_at",
        ]

    def _amount(self, obj: Order, value) -> str:
        return format_fixed(value, obj.asset.decimals)

    def get_subtotal(self, obj: Order) -> str:
        return self._amount(obj, obj.subtotal)

    def get_shipping_fee(self, obj: Order) -> str:
        return self._amount(obj, obj.shipping_fee)

    def get_fee(self, obj: Order) -> str:
        return self._amount(obj, obj.fee)

    def get_total(self, obj: Order) -> str:
        return self._amount(obj, obj.total)


class OrderDetailOutput(OrderOutput):
    """An order with its history, conditions and, for the party asking, ``next_action``
    (computed by the view through ``selectors.order_next_action``, passed in context)."""

    history = OrderEventOutput(many=True, source="events")
    conditions = ConditionOutput(many=True)
    role = serializers.SerializerMethodField()
    next_action = serializers.SerializerMethodField()

    class Meta(OrderOutput.Meta):
        fields = [*OrderOutput.Meta.fields, "history", "conditions", "role", "next_action"]

    def get_role(self, obj: Order) -> str | None:
        return self.context.get("role")

    @extend_schema_field(serializers.DictField())
    def get_next_action(self, obj: Order) -> dict:
        return self.context.get("next_action") or {}


def order_detail_data(order: Order, *, user) -> dict:
    """`user`'s whole view of their `order` (API and WebSocket alike): its fields, history,
    conditions and their next step, computed once by the selector."""
    role = order.role_of(user)
    next_action = selectors.order_next_action(order=order, role=role) if role else {}
    return OrderDetailOutput(order, context={"role": role, "next_action": next_action}).data


class ReviewOutput(serializers.ModelSerializer):
    buyer = serializers.CharField(source="buyer.public_name")

    class Meta:
        model = Review
        fields = ["rating", "text", "buyer", "created_at"]


class ResolutionOutput(serializers.Serializer):
    order = serializers.UUIDField(source="order_id")
    buyer_share_bps = serializers.IntegerField()
    reason = serializers.CharField()
    tx_hash = serializers.CharField()


class CartOutput(serializers.Serializer):
    seller = SellerOutput()
    items = serializers.ListField(child=serializers.DictField())
    quote = serializers.DictField(allow_null=True)


__all__ = ["selectors"]
