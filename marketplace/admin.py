"""The operations console for listings: read them, hide or unhide them with a reason.

Nothing here edits a listing's terms, amounts or state: makers do that through the site, the
swaps app through the reservation services. Moderation goes through the services too.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpRequest
from django.shortcuts import render

from accounts.models import User
from marketplace import services
from marketplace.models import Listing


class HideForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=300, help_text="Shown to the maker.")


class HiddenFilter(admin.SimpleListFilter):
    title = "moderation"
    parameter_name = "hidden"

    def lookups(self, request, model_admin):
        return [("yes", "Hidden"), ("no", "Visible")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        return queryset


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("no", "Not deleted")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    """Read-only listings with the hide and unhide actions."""

    list_display = (
        "id",
        "maker",
        "base_asset",
        "quote_asset",
        "amount",
        "remaining",
        "price",
        "price_margin_pct",
        "state",
        "hidden_at",
        "deleted_at",
        "created_at",
    )
    list_filter = ("state", HiddenFilter, DeletedFilter)
    search_fields = ("=id", "maker__username", "terms", "payout_address", "refund_address")
    list_select_related = ("maker", "base_asset", "quote_asset")
    date_hierarchy = "created_at"
    actions = ["hide", "unhide"]
    show_full_result_count = False  # a COUNT(*) over every listing on each page is wasted

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Listing._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(
        description="Hide the selected listings (asks for a reason)", permissions=["change"]
    )
    def hide(self, request: HttpRequest, queryset):
        if "reason" in request.POST:
            form = HideForm(request.POST)
            if form.is_valid():
                staff = request.user
                assert isinstance(staff, User)
                done = 0
                for listing_id in queryset.order_by("pk").values_list("pk", flat=True):
                    services.listing_hide(
                        listing_id=listing_id, by=staff, reason=form.cleaned_data["reason"]
                    )
                    done += 1
                self.message_user(request, f"{done} listing(s) hidden.", messages.SUCCESS)
                return None
        else:
            form = HideForm()
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return render(request, "marketplace/admin/hide.html", context)

    @admin.action(description="Unhide the selected listings", permissions=["change"])
    def unhide(self, request: HttpRequest, queryset) -> None:
        staff = request.user
        assert isinstance(staff, User)
        done = 0
        for listing_id in queryset.order_by("pk").values_list("pk", flat=True):
            services.listing_unhide(listing_id=listing_id, by=staff)
            done += 1
        self.message_user(request, f"{done} listing(s) unhidden.", messages.SUCCESS)
