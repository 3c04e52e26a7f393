"""The operations console for the escrow: the catalogue (categories edited, products hidden
with a reason), orders read-only with their history, files and conversation, and the
arbitration desk, whose decision action calls the same service as the staff API
(``services.order_resolve``: the server's arbiter key sends ``resolve``; the decision, its
reason and the transaction are recorded). Nothing here writes an order's state."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpRequest
from django.shortcuts import render

from accounts.models import User
from core.api.errors import ApiError
from escrow import selectors, services
from escrow.models import (
    Category,
    Order,
    OrderEvent,
    OrderFile,
    OrderMessage,
    Product,
    Resolution,
    Review,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "position")
    list_editable = ("position",)


class HideForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea, max_length=200, help_text="Shown to the seller."
    )


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Products read-only, with hide and unhide."""

    list_display = ("id", "title", "seller", "category", "asset", "price", "quantity_available")
    list_filter = ("kind", "category", "active")
    search_fields = ("=id", "title", "seller__username", "payout_address")
    list_select_related = ("seller", "category", "asset")
    actions = ["hide", "unhide"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Product._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Hide from the catalogue (with a reason)")
    def hide(self, request: HttpRequest, queryset):
        if "apply" in request.POST:
            form = HideForm(request.POST)
            if form.is_valid():
                for product in queryset:
                    services.product_hide(product=product, reason=form.cleaned_data["reason"])
                self.message_user(request, f"Hid {queryset.count()} product(s).")
                return None
        else:
            form = HideForm()
        return render(
            request,
            "escrow/admin/hide.html",
            {"form": form, "queryset": queryset, "action_checkbox_name": ACTION_CHECKBOX_NAME},
        )

    @admin.action(description="Show in the catalogue again")
    def unhide(self, request: HttpRequest, queryset):
        for product in queryset:
            services.product_hide(product=product, reason="")
        self.message_user(request, f"Unhid {queryset.count()} product(s).")


class EventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "from_state", "to_state", "cause", "actor", "network", "tx_hash")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class MessageInline(admin.TabularInline):
    model = OrderMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "author", "staff", "body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class FileInline(admin.TabularInline):
    model = OrderFile
    extra = 0
    can_delete = False
    fields = ("created_at", "uploader", "purpose", "name", "content_type", "size", "sha256")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class DecideForm(forms.Form):
    buyer_share_pct = forms.DecimalField(
        min_value=Decimal(0),
        max_value=Decimal(100),
        decimal_places=2,
        help_text="The buyer's share of the whole deposit, in percent; the seller gets the rest.",
    )
    reason = forms.CharField(
        widget=forms.Textarea, max_length=4000, help_text="Both parties read this."
    )


class WriteForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea, max_length=4000, label="Message")


class DisputedFilter(admin.SimpleListFilter):
    title = "arbitration"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("open", "Disputed, not decided"),
            ("flagged", "Flagged"),
            ("overdue", "Automatic release overdue"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(pk__in=selectors.orders_release_overdue().values("pk"))
        if self.value() == "open":
            return queryset.filter(state=Order.State.DISPUTED, resolution__isnull=True)
        if self.value() == "flagged":
            return queryset.exclude(flag_reason="")
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders read-only with their evidence; the arbitration queue is the "Disputed, not
    decided" filter, oldest first; the decision is an action."""

    list_display = (
        "id",
        "state",
        "buyer",
        "seller",
        "total",
        "asset",
        "flag_reason",
        "state_changed_at",
    )
    list_filter = (DisputedFilter, "state")
    search_fields = ("=id", "ref", "onchain_id", "buyer__username", "seller__username")
    list_select_related = ("buyer", "seller", "asset")
    inlines = [EventInline, MessageInline, FileInline]
    actions = ["decide", "write"]
    ordering = ("state_changed_at",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Order._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Decide the dispute (sends the arbiter's resolve)")
    def decide(self, request: HttpRequest, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Decide one dispute at a time.", messages.ERROR)
            return None
        order = queryset.get()
        staff = request.user
        assert isinstance(staff, User)
        if "apply" in request.POST:
            form = DecideForm(request.POST)
            if form.is_valid():
                return self._apply(request, order, staff, form)
        else:
            form = DecideForm()
        return render(
            request,
            "escrow/admin/decide.html",
            {
                "form": form,
                "order": order,
                "messages_": order.messages.select_related("author"),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Write to both parties (in the order's conversation)")
    def write(self, request: HttpRequest, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Write on one order at a time.", messages.ERROR)
            return None
        order = queryset.get()
        staff = request.user
        assert isinstance(staff, User)
        form = WriteForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            services.order_message_add(order=order, author=staff, body=form.cleaned_data["body"])
            self.message_user(request, "Message sent to both parties.")
            return None
        return render(
            request,
            "escrow/admin/write.html",
            {"form": form, "order": order, "action_checkbox_name": ACTION_CHECKBOX_NAME},
        )

    def _apply(self, request, order: Order, staff: User, form: DecideForm):
        try:
            bps = int(form.cleaned_data["buyer_share_pct"] * 100)
        except (InvalidOperation, TypeError):
            bps = -1
        try:
            resolution = services.order_resolve(
                order=order, staff=staff, buyer_share_bps=bps, reason=form.cleaned_data["reason"]
            )
        except ApiError as exc:
            self.message_user(request, f"Not sent: {exc.detail}", messages.ERROR)
            return None
        self.message_user(
            request,
            f"Resolve sent ({resolution.tx_hash}); the order becomes resolved when confirmed.",
        )
        return None


@admin.register(Resolution)
class ResolutionAdmin(admin.ModelAdmin):
    """The audit of decisions: who, what split, why, which transaction."""

    list_display = ("order", "buyer_share_bps", "decided_by", "tx_hash", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Resolution._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("order", "seller", "rating", "created_at")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Review._meta.fields]
