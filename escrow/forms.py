"""Forms of the shop pages: they parse input only; the views call the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from chains import selectors as chain_selectors
from escrow.models import Category, Product


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    category = forms.ModelChoiceField(
        Category.objects.all(), required=False, label=_("Category"), empty_label=_("All")
    )
    kind = forms.ChoiceField(
        choices=[("", _("All")), *Product.Kind.choices], required=False, label=_("Kind")
    )
    region = forms.CharField(required=False, max_length=80, label=_("Region"))
    in_stock = forms.BooleanField(required=False, label=_("In stock only"))
    ordering = forms.ChoiceField(
        choices=[
            ("newest", _("Newest")),
            ("price", _("Price, low to high")),
            ("-price", _("Price, high to low")),
            ("rating", _("Seller rating")),
        ],
        required=False,
        label=_("Order by"),
    )


class ProductForm(forms.Form):
    kind = forms.ChoiceField(choices=Product.Kind.choices, label=_("Kind"))
    title = forms.CharField(max_length=120, label=_("Title"))
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, max_length=5000
    )
    category = forms.ModelChoiceField(Category.objects.all(), label=_("Category"))
    unit = forms.ChoiceField(choices=Product.Unit.choices, label=_("Unit"))
    asset = forms.ChoiceField(label=_("Paid in"))
    price = forms.DecimalField(
        min_value=0, max_digits=60, decimal_places=18, label=_("Price per unit")
    )
    shipping_fee = forms.DecimalField(
        min_value=0, max_digits=60, decimal_places=18, initial=0, label=_("Shipping fee per order")
    )
    quantity_available = forms.IntegerField(min_value=0, label=_("Quantity available"))
    payout_address = forms.CharField(max_length=42, label=_("Pay me at (address)"))
    delivery_terms = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )
    region = forms.CharField(required=False, max_length=80, label=_("Region"))
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=_("One per line: what must be true before you are paid (for services)."),
        label=_("Conditions"),
    )
    image = forms.FileField(required=False, label=_("Image (JPEG, PNG or WebP)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset"].choices = [
            (a.pk, a.label) for a in chain_selectors.asset_list().order_by("network", "symbol")
        ]


class AddToCartForm(forms.Form):
    quantity = forms.IntegerField(min_value=1, initial=1, label=_("Quantity"))


class CheckoutForm(forms.Form):
    seller = forms.IntegerField(widget=forms.HiddenInput)
    refund_address = forms.CharField(
        max_length=42,
        label=_("Your address"),
        help_text=_("You pay from it; refunds and a resolution's share come back to it."),
    )


class ShipForm(forms.Form):
    tracking = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, label=_("How it was sent")
    )
    file = forms.FileField(required=False, label=_("Receipt or photo (optional)"))


class MessageForm(forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=4000, label=_("Message")
    )
    file = forms.FileField(required=False, label=_("File (optional)"))


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(5, 0, -1)], coerce=int, label=_("Rating")
    )
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )
