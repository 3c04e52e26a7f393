from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html

from accounts import services
from accounts.models import AuditEvent, KycSubmission, Reputation, User, Wallet
from accounts.services.kyc import KYC_CONTENT_TYPES
from core.admin import ReadOnlyAdmin
from core.api.errors import ApiError


class WalletInline(admin.TabularInline):
    model = Wallet
    extra = 0
    readonly_fields = ("address", "chain_id", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "kyc_level", "is_staff", "is_active", "date_joined")
    list_filter = (*BaseUserAdmin.list_filter, "kyc_level")
    inlines = [WalletInline]
    fieldsets = (
        *(BaseUserAdmin.fieldsets or ()),
        (
            "Marketplace",
            {
                "fields": (
                    "display_name",
                    "preferred_language",
                    "icp_principal",
                    "kyc_level",
                    "terms_version",
                    "terms_accepted_at",
                    "deleted_at",
                )
            },
        ),
    )
    readonly_fields = ("kyc_level", "terms_version", "terms_accepted_at", "deleted_at")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is written by services only."""

    list_display = ("created_at", "event", "user", "ip")
    list_filter = ("event",)
    search_fields = ("user__username", "ip")
    date_hierarchy = "created_at"
    list_select_related = ("user",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Reputation)
class ReputationAdmin(ReadOnlyAdmin):
    """Read-only: reputation is recomputed from swap records by the swaps app, never typed in."""

    list_display = (
        "user",
        "completed_swaps",
        "volume_usd",
        "refunded_swaps",
        "disputes_opened",
        "disputes_lost",
        "updated_at",
    )
    search_fields = ("user__username", "user__email", "user__display_name")
    ordering = ("-completed_swaps", "user_id")
    list_select_related = ("user",)


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea, max_length=2000)


@admin.register(KycSubmission)
class KycSubmissionAdmin(admin.ModelAdmin):
    """Staff review: view the private document here, approve or reject with a reason."""

    list_display = ("created_at", "user", "level", "status", "reviewed_by", "reviewed_at")
    list_filter = ("status", "level")
    list_select_related = ("user", "reviewed_by")
    readonly_fields = (
        "user",
        "level",
        "document_link",
        "status",
        "reason",
        "reviewed_by",
        "reviewed_at",
        "created_at",
    )
    exclude = ("document",)
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        view = self.admin_site.admin_view(self.document_view)
        return [
            path("<int:pk>/document/", view, name="accounts_kycsubmission_document"),
            *super().get_urls(),
        ]

    @admin.display(description="document")
    def document_link(self, obj: KycSubmission) -> str:
        if not obj.document:
            return "—"
        url = reverse("admin:accounts_kycsubmission_document", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, "Open the document")

    def document_view(self, request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
        """Stream the private document to staff who may view submissions."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        submission = get_object_or_404(KycSubmission, pk=pk)
        if not submission.document:
            return HttpResponse(status=404)
        # The type follows the stored extension, which kyc_submit derived from the content;
        # anything else (older rows) is opaque bytes. Never rendered inline by the browser.
        extension = PurePath(submission.document.name).suffix.lower()
        content_type = KYC_CONTENT_TYPES.get(extension, "application/octet-stream")
        response = FileResponse(
            submission.document.open("rb"),
            as_attachment=True,
            filename=f"kyc-{submission.pk}{extension if extension in KYC_CONTENT_TYPES else ''}",
            content_type=content_type,
        )
        response["Cache-Control"] = "private, no-store"
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return response

    @admin.action(description="Approve the selected submissions", permissions=["change"])
    def approve(self, request: HttpRequest, queryset) -> None:
        self._decide(request, queryset, approve=True, reason="")

    @admin.action(
        description="Reject the selected submissions (asks for a reason)", permissions=["change"]
    )
    def reject(self, request: HttpRequest, queryset):
        if "reason" in request.POST:
            form = RejectForm(request.POST)
            if form.is_valid():
                self._decide(request, queryset, approve=False, reason=form.cleaned_data["reason"])
                return None
        else:
            form = RejectForm()
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return render(request, "accounts/admin/kyc_reject.html", context)

    def _decide(self, request: HttpRequest, queryset, *, approve: bool, reason: str) -> None:
        done = 0
        reviewer = request.user
        assert isinstance(reviewer, User)
        for submission in queryset.order_by("pk"):
            try:
                services.kyc_decide(
                    submission=submission, reviewer=reviewer, approve=approve, reason=reason
                )
                done += 1
            except ApiError as exc:
                self.message_user(request, f"#{submission.pk}: {exc.detail}", messages.WARNING)
        self.message_user(request, f"{done} submission(s) decided.", messages.SUCCESS)
