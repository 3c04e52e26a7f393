"""Swaps API shapes. Amounts and prices travel as decimal strings with the asset's places."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from chains import selectors as chain_selectors
from core.decimals import format_fixed, format_plain
from swaps import selectors
from swaps.models import Dispute, Notification, Swap, SwapEvent


class SwapCreateInput(serializers.Serializer):
    listing = serializers.IntegerField(min_value=1)
    # A string, never a float: parsed as Decimal and checked against the asset's decimals.
    amount = serializers.CharField(max_length=80)
    hashlock = serializers.CharField(max_length=66, help_text="0x + sha256(secret), 64 hex digits")
    taker_address = serializers.CharField(
        max_length=42, help_text="Where you receive the base asset: a wallet linked to you."
    )


class SwapEventOutput(serializers.ModelSerializer):
    explorer_url = serializers.SerializerMethodField()
    party = serializers.SerializerMethodField(
        help_text="Who acted, or who is at fault for a `fault:` cause: taker, maker or null."
    )

    class Meta:
        model = SwapEvent
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

    def get_party(self, obj: SwapEvent) -> str | None:
        if obj.actor_id is None:
            return None
        return {obj.swap.taker_id: "taker", obj.swap.maker_id: "maker"}.get(obj.actor_id)

    def get_explorer_url(self, obj: SwapEvent) -> str:
        return chain_selectors.explorer_tx_url(network=obj.network, tx_hash=obj.tx_hash)


class DisputeMessageOutput(serializers.Serializer):
    author = serializers.CharField(source="author.public_name")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class DisputeOutput(serializers.ModelSerializer):
    messages = DisputeMessageOutput(many=True)

    class Meta:
        model = Dispute
        fields = ["status", "outcome", "resolution", "created_at", "resolved_at", "messages"]


# "data" cannot be a declared field of a Serializer class (it is a property there).
NextActionOutput = inline_serializer(
    name="NextAction",
    fields={
        "action": serializers.ChoiceField(["approve", "lock", "redeem", "refund", "wait", "none"]),
        "message": serializers.CharField(),
        "reason": serializers.CharField(required=False),
        "network": serializers.CharField(required=False),
        "chain_id": serializers.IntegerField(required=False),
        "to": serializers.CharField(required=False),
        "data": serializers.CharField(required=False),
        "value": serializers.CharField(required=False, help_text="wei, as a decimal string"),
        "from": serializers.CharField(required=False, help_text="the address to send from"),
        "function": serializers.CharField(required=False, help_text="redeem, for the taker"),
        "lock_id": serializers.CharField(required=False),
    },
)


class SwapOutput(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    quote_amount = serializers.SerializerMethodField()
    price = serializers.SerializerMethodField()
    base_asset = serializers.IntegerField(source="base_asset_id")
    quote_asset = serializers.IntegerField(source="quote_asset_id")
    listing = serializers.IntegerField(source="listing_id")
    base_network = serializers.CharField()
    quote_network = serializers.CharField()
    role = serializers.SerializerMethodField()
    history = SwapEventOutput(source="events", many=True)

    class Meta:
        model = Swap
        fields = [
            "id",
            "state",
            "role",
            "listing",
            "base_asset",
            "quote_asset",
            "base_network",
            "quote_network",
            "amount",
            "quote_amount",
            "price",
            "hashlock",
            "taker_address",
            "maker_payout_address",
            "maker_refund_address",
            "taker_refund_address",
            "taker_timelock",
            "maker_timelock",
            "quote_expires_at",
            "maker_deadline",
            "taker_redeem_deadline",
            "taker_lock_id",
            "maker_lock_id",
            "flag_reason",
            "created_at",
            "updated_at",
            "history",
        ]

    def get_amount(self, obj: Swap) -> str:
        return format_fixed(obj.amount, obj.base_asset.decimals)

    def get_quote_amount(self, obj: Swap) -> str:
        return format_fixed(obj.quote_amount, obj.quote_asset.decimals)

    def get_price(self, obj: Swap) -> str:
        return format_plain(obj.price)

    def get_role(self, obj: Swap) -> str | None:
        user = self.context["user"] if "user" in self.context else self.context["request"].user
        return obj.role_of(user)


class SwapDetailOutput(SwapOutput):
    next_action = serializers.SerializerMethodField()
    dispute = serializers.SerializerMethodField()

    class Meta(SwapOutput.Meta):
        fields = [*SwapOutput.Meta.fields, "next_action", "dispute"]

    @extend_schema_field(NextActionOutput)
    def get_next_action(self, obj: Swap) -> dict:
        return self.context["next_action"]  # computed once, by the selector

    @extend_schema_field(DisputeOutput(allow_null=True))
    def get_dispute(self, obj: Swap) -> dict | None:
        dispute = getattr(obj, "dispute", None)
        return DisputeOutput(dispute).data if dispute is not None else None


class DisputeInput(serializers.Serializer):
    message = serializers.CharField(max_length=4000, trim_whitespace=True)


class NotificationOutput(serializers.ModelSerializer):
    message = serializers.CharField(
        source="text", help_text="In the request's language, with its times filled in."
    )

    class Meta:
        model = Notification
        fields = ["id", "swap", "kind", "message", "read_at", "created_at"]


def swap_detail_data(swap: Swap, *, user) -> dict:
    """`user`'s whole view of their `swap` (API, page and WebSocket alike): its fields,
    history and dispute, and their next step, computed once by the selector."""
    next_action = selectors.swap_next_action(swap=swap, role=swap.role_of(user) or "")
    return SwapDetailOutput(swap, context={"user": user, "next_action": next_action}).data
