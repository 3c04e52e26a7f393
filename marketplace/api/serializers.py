"""Input and output shapes of the listings API. Decimals travel as plain strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import PublicReputationOutput
from accounts.models import User
from accounts.selectors import public_reputation
from core.decimals import format_fixed, parse_decimal
from marketplace.models import Listing
from marketplace.selectors import KYC_ORDER, ORDERINGS

DECIMAL_SCHEMA = {"type": "string", "format": "decimal", "example": "1.500000000000000000"}


@extend_schema_field(DECIMAL_SCHEMA)
class DecimalInput(serializers.Field):
    """A decimal given as a string (or a JSON number, read exactly, never as a float)."""

    default_error_messages = {"invalid_decimal": _('Enter a decimal number, e.g. "1.25".')}

    def to_internal_value(self, data: Any) -> Decimal:
        value = parse_decimal(data)
        if value is None:
            self.fail("invalid_decimal")
        assert value is not None
        return value

    def to_representation(self, value: Decimal) -> str:
        return format(value, "f")


class ListingCreateInput(serializers.Serializer):
    base_asset = serializers.IntegerField(help_text="Asset id from /api/v1/assets/: sold.")
    quote_asset = serializers.IntegerField(help_text="Asset id from /api/v1/assets/: received.")
    amount = DecimalInput(help_text="Total to sell, in base asset units.")
    min_trade = DecimalInput(help_text="Smallest amount one trade may take (base units).")
    max_trade = DecimalInput(help_text="Largest amount one trade may take (base units).")
    price = DecimalInput(
        required=False, allow_null=True, help_text="Fixed price: quote units per base unit."
    )
    price_margin_pct = DecimalInput(
        required=False,
        allow_null=True,
        help_text="Market-relative: percent over (negative: under) the oracle price.",
    )
    price_floor = DecimalInput(required=False, allow_null=True)
    price_ceiling = DecimalInput(required=False, allow_null=True)
    payout_address = serializers.CharField(
        max_length=42, help_text="Your linked wallet receiving the quote asset."
    )
    refund_address = serializers.CharField(
        max_length=42, help_text="Your linked wallet receiving refunds of the base asset."
    )
    terms = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    state = serializers.ChoiceField(
        choices=[Listing.State.ACTIVE, Listing.State.DRAFT],
        required=False,
        default=Listing.State.ACTIVE,
        help_text="`active` publishes now (the default); `draft` keeps it to publish later.",
    )


class ListingUpdateInput(serializers.Serializer):
    """Every field is optional; only those sent change. The pair cannot change."""

    amount = DecimalInput(required=False)
    min_trade = DecimalInput(required=False)
    max_trade = DecimalInput(required=False)
    price = DecimalInput(required=False, allow_null=True)
    price_margin_pct = DecimalInput(required=False, allow_null=True)
    price_floor = DecimalInput(required=False, allow_null=True)
    price_ceiling = DecimalInput(required=False, allow_null=True)
    payout_address = serializers.CharField(required=False, max_length=42)
    refund_address = serializers.CharField(required=False, max_length=42)
    terms = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    base_asset = serializers.IntegerField(required=False, help_text="Refused: fixed at creation.")
    quote_asset = serializers.IntegerField(required=False, help_text="Refused: fixed at creation.")
    state = serializers.ChoiceField(
        choices=[Listing.State.ACTIVE, Listing.State.PAUSED, Listing.State.CANCELLED],
        required=False,
        help_text="`active` publishes a draft or resumes; `paused`; `cancelled` (final).",
    )


class ListingFilterInput(serializers.Serializer):
    pair = serializers.RegexField(
        r"^[A-Za-z0-9.]{1,16}-[A-Za-z0-9.]{1,16}$",
        required=False,
        error_messages={"invalid": _("Give a pair as BASE-QUOTE, e.g. ETH-TEST.")},
    )
    base_asset = serializers.IntegerField(required=False, min_value=1)
    quote_asset = serializers.IntegerField(required=False, min_value=1)
    min_amount = DecimalInput(required=False)
    price_min = DecimalInput(required=False)
    price_max = DecimalInput(required=False)
    maker_min_completed = serializers.IntegerField(required=False, min_value=0)
    maker_kyc = serializers.ChoiceField(choices=KYC_ORDER, required=False)
    q = serializers.CharField(required=False, max_length=200)
    ordering = serializers.ChoiceField(choices=ORDERINGS, required=False, default="newest")
    mine = serializers.BooleanField(required=False, default=False)

    def validate_pair(self, value: str) -> str:
        base, _sep, quote = value.upper().partition("-")
        if base == quote:
            raise serializers.ValidationError(_("Base and quote must differ."), code="same_asset")
        return value.upper()


class MakerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="public_name")
    kyc_level = serializers.CharField()
    completed_swaps = serializers.SerializerMethodField()

    def get_completed_swaps(self, user: User) -> int:
        return _completed_swaps(user)


def _completed_swaps(user: User) -> int:
    reputation = getattr(user, "reputation", None)
    return reputation.completed_swaps if reputation is not None else 0


def _decimal_out(**kwargs) -> serializers.SerializerMethodField:
    return serializers.SerializerMethodField(**kwargs)


# Unbound fields whose to_representation ListingOutput calls directly (they need no parent).
_DATETIME = serializers.DateTimeField()
_STATE = serializers.ChoiceField(choices=Listing.State.choices)
_REPUTATION = PublicReputationOutput()


class ListingOutput(serializers.Serializer):
    """A listing. Amounts have the base asset's places, prices the quote asset's."""

    id = serializers.IntegerField()
    pair = serializers.CharField(help_text="BASE-QUOTE symbols, e.g. ETH-TEST.")
    base_asset = serializers.IntegerField(source="base_asset_id")
    quote_asset = serializers.IntegerField(source="quote_asset_id")
    base_network = serializers.CharField(source="base_asset.network")
    quote_network = serializers.CharField(source="quote_asset.network")
    price_pair = serializers.CharField(
        help_text="The oracle's pair (the assets' price symbols), e.g. ETH-ETH for ETH on "
        "two networks."
    )
    amount = _decimal_out(help_text="Total offered, base units.")
    remaining = _decimal_out(help_text="Not yet reserved by swaps, base units.")
    min_trade = _decimal_out()
    max_trade = _decimal_out()
    price = _decimal_out(help_text="Fixed price (quote per base), or null.")
    price_margin_pct = _decimal_out(help_text="Market-relative margin in percent, or null.")
    price_floor = _decimal_out()
    price_ceiling = _decimal_out()
    current_price = _decimal_out(
        help_text="Price now (quote per base); null when the market price is unavailable."
    )
    available = serializers.SerializerMethodField(
        help_text="False when a market-relative listing's pair has no tradeable oracle price."
    )
    payout_address = serializers.CharField()
    refund_address = serializers.CharField()
    terms = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    state = serializers.ChoiceField(choices=Listing.State.choices)
    maker = MakerOutput()
    maker_reputation = serializers.SerializerMethodField(
        help_text="The maker's public track record."
    )
    hidden_reason = serializers.SerializerMethodField(
        help_text="Why moderators hid it; shown to its maker only, else null."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, listing: Listing) -> dict[str, Any]:
        """The fields declared above (they make the schema), in their order, built directly.

        DRF's generic walk (a bound copy of every field per serializer, a reputation
        serializer per listing) cost more than the page's SQL (issue #15). The output is the
        same, value for value: ``test_serializers`` compares it with the generic walk.
        """
        base, quote, maker = listing.base_asset, listing.quote_asset, listing.maker
        price = self.context["prices"].get(listing.pk)
        dt = _DATETIME.to_representation
        return {
            "id": listing.pk,
            "pair": f"{base.symbol}-{quote.symbol}",
            "base_asset": listing.base_asset_id,
            "quote_asset": listing.quote_asset_id,
            "base_network": base.network,
            "quote_network": quote.network,
            "price_pair": f"{base.priced_as}-{quote.priced_as}",
            "amount": format_fixed(listing.amount, base.decimals),
            "remaining": format_fixed(listing.remaining, base.decimals),
            "min_trade": format_fixed(listing.min_trade, base.decimals),
            "max_trade": format_fixed(listing.max_trade, base.decimals),
            "price": format_fixed(listing.price, quote.decimals),
            "price_margin_pct": self.get_price_margin_pct(listing),
            "price_floor": format_fixed(listing.price_floor, quote.decimals),
            "price_ceiling": format_fixed(listing.price_ceiling, quote.decimals),
            "current_price": format_fixed(price, quote.decimals),
            "available": price is not None,
            "payout_address": listing.payout_address,
            "refund_address": listing.refund_address,
            "terms": listing.terms,
            "expires_at": dt(listing.expires_at) if listing.expires_at is not None else None,
            "state": _STATE.to_representation(listing.state),
            "maker": {
                "id": maker.pk,
                "name": maker.public_name,
                "kyc_level": maker.kyc_level,
                "completed_swaps": _completed_swaps(maker),
            },
            "maker_reputation": self.get_maker_reputation(listing),
            "hidden_reason": self.get_hidden_reason(listing),
            "created_at": dt(listing.created_at),
            "updated_at": dt(listing.updated_at),
        }

    def _base(self, listing: Listing, value: Decimal | None) -> str | None:
        return format_fixed(value, listing.base_asset.decimals)

    def _quote(self, listing: Listing, value: Decimal | None) -> str | None:
        return format_fixed(value, listing.quote_asset.decimals)

    @extend_schema_field(DECIMAL_SCHEMA)
    def get_amount(self, listing: Listing) -> str | None:
        return self._base(listing, listing.amount)

    @extend_schema_field(DECIMAL_SCHEMA)
    def get_remaining(self, listing: Listing) -> str | None:
        return self._base(listing, listing.remaining)

    @extend_schema_field(DECIMAL_SCHEMA)
    def get_min_trade(self, listing: Listing) -> str | None:
        return self._base(listing, listing.min_trade)

    @extend_schema_field(DECIMAL_SCHEMA)
    def get_max_trade(self, listing: Listing) -> str | None:
        return self._base(listing, listing.max_trade)

    @extend_schema_field({**DECIMAL_SCHEMA, "nullable": True})
    def get_price(self, listing: Listing) -> str | None:
        return self._quote(listing, listing.price)

    @extend_schema_field({**DECIMAL_SCHEMA, "nullable": True, "example": "1.5000"})
    def get_price_margin_pct(self, listing: Listing) -> str | None:
        margin = listing.price_margin_pct
        return format(margin.quantize(Decimal("0.0001")), "f") if margin is not None else None

    @extend_schema_field({**DECIMAL_SCHEMA, "nullable": True})
    def get_price_floor(self, listing: Listing) -> str | None:
        return self._quote(listing, listing.price_floor)

    @extend_schema_field({**DECIMAL_SCHEMA, "nullable": True})
    def get_price_ceiling(self, listing: Listing) -> str | None:
        return self._quote(listing, listing.price_ceiling)

    @extend_schema_field({**DECIMAL_SCHEMA, "nullable": True})
    def get_current_price(self, listing: Listing) -> str | None:
        return self._quote(listing, self.context["prices"].get(listing.pk))

    def get_available(self, listing: Listing) -> bool:
        return self.context["prices"].get(listing.pk) is not None

    @extend_schema_field(PublicReputationOutput)
    def get_maker_reputation(self, listing: Listing) -> dict:
        return _REPUTATION.to_representation(public_reputation(listing.maker))

    @extend_schema_field({"type": "string", "nullable": True})
    def get_hidden_reason(self, listing: Listing) -> str | None:
        viewer = self.context.get("viewer")
        if listing.hidden_at is None or viewer is None or viewer.pk != listing.maker_id:
            return None
        return listing.hidden_reason
