"""Oracle console: halt or resume a pair by hand (with a reason, audited), see alerts."""

from django import forms
from django.contrib import admin, messages

from core.admin import ReadOnlyAdmin
from oracle import services
from oracle.models import OracleAlert, PairHalt, PricePoint


class PairHaltForm(forms.ModelForm):
    class Meta:
        model = PairHalt
        fields = ["pair", "reason"]


@admin.register(PairHalt)
class PairHaltAdmin(admin.ModelAdmin):
    """Adding a row halts the pair; the resume action lifts it. Both go through services."""

    form = PairHaltForm
    list_display = ("pair", "reason", "halted_by", "created_at")
    actions = ["resume"]

    def save_model(self, request, obj, form, change):
        services.pair_halt(pair=obj.pair.upper(), reason=obj.reason, user=request.user)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # resuming needs a reason: use the action

    @admin.action(description="Resume the selected pairs (the halt reason is kept in the audit)")
    def resume(self, request, queryset):
        for halt in queryset:
            services.pair_resume(
                pair=halt.pair,
                reason=f"resumed by {request.user} from the admin",
                user=request.user,
            )
        messages.success(request, f"Resumed {queryset.count()} pair(s).")


@admin.register(OracleAlert)
class OracleAlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "pair", "kind", "source", "reason", "detail", "user")
    list_filter = ("kind", "pair", "source", "reason")


@admin.register(PricePoint)
class PricePointAdmin(ReadOnlyAdmin):
    list_display = ("computed_at", "pair", "price", "status", "spread_pct", "halt_reason")
    list_filter = ("pair", "status")
