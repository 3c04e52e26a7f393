"""Forms of the marketplace pages. Decimals are parsed exactly (never through a float)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError as ApiValidationError

from accounts.models import User
from accounts.selectors import wallet_list
from chains.selectors import asset_list
from core.decimals import format_plain, parse_decimal
from marketplace.models import Listing
from marketplace.selectors import KYC_ORDER, ORDERINGS


class DecimalText(forms.CharField):
    """A decimal typed as text, returned as an exact ``Decimal`` (or None when empty)."""

    default_error_messages = {"invalid_decimal": _('Enter a decimal number, e.g. "1.25".')}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 80)
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("autocomplete", "off")

    def clean(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().clean(value)
        if not text:
            return None
        parsed = parse_decimal(text)
        if parsed is None:
            raise forms.ValidationError(self.error_messages["invalid_decimal"], "invalid_decimal")
        return parsed


class AssetChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.symbol} ({obj.network})"


PRICE_FIXED, PRICE_MARKET = "fixed", "market"


class ListingForm(forms.Form):
    """Create (with the pair) or edit (without it) a listing."""

    base_asset = AssetChoice(label=_("You sell"), queryset=asset_list().none())
    quote_asset = AssetChoice(label=_("You receive"), queryset=asset_list().none())
    amount = DecimalText(label=_("Total amount to sell"))
    min_trade = DecimalText(label=_("Minimum per trade"))
    max_trade = DecimalText(label=_("Maximum per trade"))
    price_kind = forms.ChoiceField(
        label=_("Price"),
        choices=[(PRICE_FIXED, _("Fixed price")), (PRICE_MARKET, _("Market price plus a margin"))],
        widget=forms.RadioSelect,
        initial=PRICE_FIXED,
    )
    price = DecimalText(label=_("Fixed price (received per unit sold)"), required=False)
    price_margin_pct = DecimalText(
        label=_("Margin over the market price, in percent"), required=False
    )
    price_floor = DecimalText(label=_("Lowest price (optional)"), required=False)
    price_ceiling = DecimalText(label=_("Highest price (optional)"), required=False)
    payout_address = forms.ChoiceField(label=_("Receive payment at"))
    refund_address = forms.ChoiceField(label=_("Refunds of what you sell go to"))
    terms = forms.CharField(label=_("Terms (optional)"), required=False, widget=forms.Textarea)
    expires_at = forms.DateTimeField(
        label=_("Expires at (optional)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    draft = forms.BooleanField(label=_("Save as a draft, publish later"), required=False)

    def __init__(self, *args: Any, maker: User, listing: Listing | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.listing = listing
        addresses = [(w.address, w.address) for w in wallet_list(user=maker)]
        for name in ("payout_address", "refund_address"):
            self.fields[name].choices = addresses  # type: ignore[attr-defined]
        if listing is None:
            assets = asset_list().order_by("symbol", "network")
            self.fields["base_asset"].queryset = assets  # type: ignore[attr-defined]
            self.fields["quote_asset"].queryset = assets  # type: ignore[attr-defined]
        else:
            for name in ("base_asset", "quote_asset", "draft"):
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # One kind of price: the other's fields are dropped, not sent half-filled.
        if data.get("price_kind") == PRICE_MARKET:
            data["price"] = None
        else:
            data.update(price_margin_pct=None, price_floor=None, price_ceiling=None)
        return data

    def service_values(self) -> dict[str, Any]:
        """The cleaned data as the services take it."""
        values = dict(self.cleaned_data)
        values.pop("price_kind", None)
        values.pop("draft", None)
        if self.listing is None:
            values["base_asset_id"] = values.pop("base_asset").pk
            values["quote_asset_id"] = values.pop("quote_asset").pk
        values["terms"] = values.get("terms") or ""
        return values

    def add_service_errors(self, exc: ApiValidationError) -> None:
        """Show a service's field errors on the matching fields (others on the form)."""
        detail: dict = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
        for field, errors in detail.items():
            target = field if field in self.fields else None
            for error in errors if isinstance(errors, list) else [errors]:
                self.add_error(target, str(error))

    @classmethod
    def initial_for(cls, listing: Listing) -> dict[str, Any]:
        # '2000.5', not '2000.500000': trailing zeros are noise in an edit form.
        base, quote = listing.base_asset.decimals, listing.quote_asset.decimals
        return {
            "amount": format_plain(listing.amount, base),
            "min_trade": format_plain(listing.min_trade, base),
            "max_trade": format_plain(listing.max_trade, base),
            "price_kind": PRICE_MARKET if listing.is_market_relative else PRICE_FIXED,
            "price": format_plain(listing.price, quote) or "",
            "price_margin_pct": format_plain(listing.price_margin_pct) or "",
            "price_floor": format_plain(listing.price_floor, quote) or "",
            "price_ceiling": format_plain(listing.price_ceiling, quote) or "",
            "payout_address": listing.payout_address,
            "refund_address": listing.refund_address,
            "terms": listing.terms,
            "expires_at": listing.expires_at,
        }


class BookFilterForm(forms.Form):
    """Filters of the offer book page (the API's query parameters, a subset)."""

    ordering = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("newest", _("Newest")),
            ("price", _("Price, lowest first")),
            ("-price", _("Price, highest first")),
            ("reputation", _("Maker reputation")),
        ],
    )
    min_amount = DecimalText(label=_("I want at least"), required=False)
    price_min = DecimalText(label=_("Lowest price"), required=False)
    price_max = DecimalText(label=_("Highest price"), required=False)
    maker_kyc = forms.ChoiceField(
        label=_("Maker verified at least"),
        required=False,
        choices=[("", _("Any")), *[(k, k) for k in KYC_ORDER if k != "none"]],
    )
    q = forms.CharField(label=_("Search the terms"), required=False, max_length=200)

    def search_filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "ordering": data.get("ordering") if data.get("ordering") in ORDERINGS else "newest",
            "min_amount": data.get("min_amount"),
            "price_min": data.get("price_min"),
            "price_max": data.get("price_max"),
            "maker_kyc": data.get("maker_kyc") or None,
            "text": data.get("q") or None,
        }


class MarketFilterForm(BookFilterForm):
    """Filters of a market page, one inline row over both sides of the book. Prices are in
    the market's terms (quote per base) on both sides; "at least" is what a buyer wants."""

    ordering = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("price", _("Best price first")),
            ("newest", _("Newest")),
            ("reputation", _("Maker reputation")),
        ],
    )

    def __init__(self, *args: Any, base: str = "", quote: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if base:
            self.fields["min_amount"].label = _("Buy at least (%(base)s)") % {"base": base}
        if base and quote:
            unit = _("%(quote)s per %(base)s") % {"quote": quote, "base": base}
            self.fields["price_min"].label = _("Lowest price (%(unit)s)") % {"unit": unit}
            self.fields["price_max"].label = _("Highest price (%(unit)s)") % {"unit": unit}
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "input-sm")

    def search_filters(self) -> dict[str, Any]:
        filters = super().search_filters()
        chosen = self.cleaned_data.get("ordering")
        filters["ordering"] = chosen if chosen in ("newest", "reputation") else "price"
        return filters
