"""Swaps API shapes. Amounts and prices travel as decimal strings with the asset's places."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from chains import selectors as chain_selectors
from core.decimals import CTX, format_fixed, format_plain, quantize
from swaps import selectors
from swaps.models import Dispute, Notification, Swap, SwapEvent
from swaps.quotes import Quote, timeline


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
        "late": serializers.BooleanField(
            required=False, help_text="the seller's deadline passed: a lock still counts late"
        ),
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


class MessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=4000, trim_whitespace=True)


class MessageOutput(serializers.Serializer):
    id = serializers.IntegerField()
    author = serializers.CharField()
    mine = serializers.BooleanField(help_text="written by you")
    staff = serializers.BooleanField(help_text="written by staff (in a dispute)")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()


class PushKeysInput(serializers.Serializer):
    p256dh = serializers.CharField(max_length=120)
    auth = serializers.CharField(max_length=40)


class PushSubscriptionInput(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1000)
    keys = PushKeysInput()


class PushEndpointInput(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1000)


class NotificationOutput(serializers.ModelSerializer):
    message = serializers.CharField(
        source="text", help_text="In the request's language, with its times filled in."
    )

    class Meta:
        model = Notification
        fields = ["id", "swap", "kind", "message", "link", "read_at", "created_at"]


def swap_detail_data(swap: Swap, *, user) -> dict:
    """`user`'s whole view of their `swap` (API, page and WebSocket alike): its fields,
    history and dispute, and their next step, computed once by the selector."""
    next_action = selectors.swap_next_action(swap=swap, role=swap.role_of(user) or "")
    return SwapDetailOutput(swap, context={"user": user, "next_action": next_action}).data


class SwapQuoteInput(serializers.Serializer):
    listing = serializers.IntegerField(min_value=1)
    amount = serializers.CharField(max_length=80)
    taker_address = serializers.CharField(
        max_length=64, help_text="The wallet you would receive at and pay from."
    )
    hashlock = serializers.CharField(
        max_length=66, required=False, help_text="Ignored: a quote needs no secret."
    )


_money = {"amount": serializers.CharField(), "symbol": serializers.CharField()}
QuoteOutput = inline_serializer(
    name="SwapQuote",
    fields={
        "listing": serializers.IntegerField(),
        "can_take": serializers.BooleanField(),
        "refusals": inline_serializer(
            name="QuoteRefusal",
            fields={"code": serializers.CharField(), "detail": serializers.CharField()},
            many=True,
        ),
        "you_get": inline_serializer(
            name="QuoteLeg",
            fields={
                **_money,
                "network": serializers.CharField(),
                "address": serializers.CharField(),
            },
        ),
        "you_pay": inline_serializer(
            name="QuoteLegPay",
            fields={**_money, "network": serializers.CharField()},
        ),
        "price": serializers.CharField(),
        "oracle_price": serializers.CharField(allow_null=True),
        "price_vs_oracle_pct": serializers.CharField(
            allow_null=True, help_text="(price / oracle - 1) x 100, 2 decimals"
        ),
        "value_usd": serializers.CharField(),
        "fees": inline_serializer(
            name="QuoteFee",
            fields={
                "step": serializers.ChoiceField(["approve", "lock", "redeem"]),
                "network": serializers.CharField(),
                "gas": serializers.IntegerField(help_text="upper bound (docs/gas.md ceilings)"),
                "gas_price_wei": serializers.CharField(),
                **_money,
                "usd": serializers.CharField(allow_null=True),
            },
            many=True,
        ),
        "fees_usd": serializers.CharField(allow_null=True),
        "platform_fee": serializers.CharField(help_text="always 0: the platform charges none"),
        "balances": inline_serializer(
            name="QuoteBalance",
            fields={
                "kind": serializers.ChoiceField(["asset", "gas"]),
                "network": serializers.CharField(),
                "symbol": serializers.CharField(),
                "needed": serializers.CharField(),
                "available": serializers.CharField(),
                "sufficient": serializers.BooleanField(),
            },
            many=True,
        ),
        "times": inline_serializer(
            name="QuoteTimes",
            fields={
                name: serializers.DateTimeField()
                for name in (
                    "lock_by",
                    "maker_lock_by",
                    "redeem_by",
                    "maker_refund_at",
                    "taker_refund_at",
                )
            },
        ),
        "windows": inline_serializer(
            name="QuoteWindows",
            fields={
                "maker_response_seconds": serializers.IntegerField(),
                "taker_redeem_seconds": serializers.IntegerField(),
                "margin_seconds": serializers.IntegerField(),
            },
        ),
        "taker_timelock": serializers.IntegerField(),
        "maker_timelock": serializers.IntegerField(),
    },
)


def quote_data(quote: Quote) -> dict:
    """A ``swaps.quotes.Quote`` as the API and the take form show it."""
    terms = quote.terms
    listing = terms.listing
    base, quote_asset = listing.base_asset, listing.quote_asset
    distance = None
    if terms.oracle_price:
        ratio = CTX.divide(terms.price, terms.oracle_price) - 1
        distance = format_plain(quantize(CTX.multiply(ratio, 100), 2, rounding="ROUND_HALF_UP"))
    fees_usd = None
    if quote.fees and all(f.usd is not None for f in quote.fees):
        fees_usd = format_fixed(
            sum((f.usd for f in quote.fees if f.usd is not None), Decimal(0)), 2
        )
    return {
        "listing": listing.pk,
        "can_take": quote.can_take,
        "refusals": [
            {"code": exc.get_codes(), "detail": str(exc.detail)} for exc in quote.refusals
        ],
        "you_get": {
            "amount": format_plain(terms.amount, base.decimals),
            "symbol": base.symbol,
            "network": base.network,
            "address": quote.taker_address,
        },
        "you_pay": {
            "amount": format_plain(terms.quote_amount, quote_asset.decimals),
            "symbol": quote_asset.symbol,
            "network": quote_asset.network,
        },
        "price": format_plain(terms.price, quote_asset.decimals),
        "oracle_price": format_plain(terms.oracle_price) if terms.oracle_price else None,
        "price_vs_oracle_pct": distance,
        "value_usd": format_fixed(terms.value_usd, 2),
        "fees": [
            {
                "step": f.step,
                "network": f.network,
                "gas": f.gas,
                "gas_price_wei": str(f.gas_price),
                "amount": format_plain(quantize(f.amount, 10, rounding="ROUND_UP")),
                "symbol": f.symbol,
                "usd": format_fixed(f.usd, 2),
            }
            for f in quote.fees
        ],
        "fees_usd": fees_usd,
        "platform_fee": "0",
        "balances": [
            {
                "kind": b.kind,
                "network": b.network,
                "symbol": b.symbol,
                "needed": format_plain(
                    quantize(b.needed, min(b.decimals, 10), rounding="ROUND_UP")
                ),
                "available": format_plain(quantize(b.available, min(b.decimals, 10))),
                "sufficient": b.missing <= 0,
            }
            for b in quote.funds
        ],
        "times": {name: moment.isoformat() for name, moment in timeline(terms).items()},
        "windows": {
            "maker_response_seconds": terms.schedule.maker_response,
            "taker_redeem_seconds": terms.schedule.taker_redeem,
            "margin_seconds": terms.schedule.margin,
        },
        "taker_timelock": terms.taker_timelock,
        "maker_timelock": terms.maker_timelock,
    }
