"""The swap monitor and dispute desk. Staff read evidence and record outcomes; nothing here
moves a swap's state or funds (the contract allows no one to)."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince, timeuntil

from chains import selectors as chain_selectors
from core.admin import ReadOnlyAdmin
from swaps import selectors, services
from swaps.models import Dispute, DisputeMessage, Swap, SwapEvent, SwapMessage


class SwapEventInline(admin.TabularInline):
    model = SwapEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "from_state", "to_state", "cause", "network", "block", "explorer")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="transaction")
    def explorer(self, obj: SwapEvent):
        url = chain_selectors.explorer_tx_url(network=obj.network, tx_hash=obj.tx_hash)
        if url:
            return format_html('<a href="{}" rel="noopener">{}</a>', url, obj.tx_hash)
        return obj.tx_hash


def readable_time(moment: datetime | None) -> str:
    """A time for staff: UTC to the second, and how far from now ("in 5 minutes")."""
    if moment is None:
        return "—"
    now = timezone.now()
    ahead = moment >= now
    relative = f"in {timeuntil(moment, now)}" if ahead else f"{timesince(moment, now)} ago"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({relative})"


def _timelock(value: int) -> str:
    return readable_time(datetime.fromtimestamp(value, UTC))


class SwapMessageInline(admin.TabularInline):
    """The parties' conversation, read-only for staff."""

    model = SwapMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "author", "body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Swap)
class SwapAdmin(ReadOnlyAdmin):
    """Stuck swaps first: open and unchanged for SWAP_STUCK_SECONDS. Timelocks (Unix seconds
    on chain) are shown as times too."""

    list_display = [
        "id",
        "state",
        "is_stuck",
        "pair",
        "amount",
        "quote_amount",
        "state_changed_at",
        "next_deadline",
    ]
    list_filter = ["state", "base_asset__network", "quote_asset__network"]
    search_fields = ["id", "hashlock", "taker__username", "maker__username", "taker_lock_id"]
    inlines = [SwapEventInline, SwapMessageInline]
    readonly_fields = [
        *(f.name for f in Swap._meta.fields),
        "taker_timelock_at",
        "maker_timelock_at",
        "deadlines",
    ]

    @admin.display(description="taker timelock (T1)")
    def taker_timelock_at(self, obj: Swap) -> str:
        return _timelock(obj.taker_timelock)

    @admin.display(description="maker timelock (T2)")
    def maker_timelock_at(self, obj: Swap) -> str:
        return _timelock(obj.maker_timelock)

    @admin.display(description="deadlines")
    def deadlines(self, obj: Swap):
        return format_html_join(
            "\n",
            "<div>{}: {}</div>",
            (
                ("taker locks by", readable_time(obj.quote_expires_at)),
                ("maker locks by", readable_time(obj.maker_deadline)),
                ("taker redeems by", readable_time(obj.taker_redeem_deadline)),
            ),
        )

    @admin.display(description="next deadline")
    def next_deadline(self, obj: Swap) -> str:
        due = {
            Swap.State.CREATED: obj.quote_expires_at,
            Swap.State.TAKER_LOCKED: obj.maker_deadline,
            Swap.State.MAKER_LOCKED: obj.taker_redeem_deadline,
        }.get(Swap.State(obj.state))
        return readable_time(due) if due else "—"

    def get_queryset(self, request):
        return selectors.swap_monitor_list()

    @admin.display(boolean=True, description="stuck", ordering="-stuck")
    def is_stuck(self, obj) -> bool:
        return bool(getattr(obj, "stuck", False))

    @admin.display(description="pair")
    def pair(self, obj: Swap) -> str:
        base, quote = obj.base_asset, obj.quote_asset
        return f"{base.symbol}@{base.network} / {quote.symbol}@{quote.network}"


class DisputeMessageInline(admin.TabularInline):
    model = DisputeMessage
    extra = 0
    can_delete = False
    fields = ("created_at", "author", "body")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class DisputeForm(forms.ModelForm):
    reply = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Written to both parties (they are notified and read it on the swap page).",
    )

    class Meta:
        model = Dispute
        fields = ["outcome", "resolution"]


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Staff read the swap's evidence, the parties' conversation and the dispute's messages,
    reply to both parties, then record an outcome and the reason (both parties read them)."""

    form = DisputeForm
    list_display = ["swap", "status", "outcome", "opened_by", "created_at", "resolved_at"]
    list_filter = ["status", "outcome"]
    fields = [
        "swap",
        "opened_by",
        "status",
        "evidence",
        "files",
        "conversation",
        "reply",
        "outcome",
        "resolution",
    ]
    readonly_fields = ["swap", "opened_by", "status", "evidence", "files", "conversation"]
    inlines = [DisputeMessageInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="chain evidence")
    def evidence(self, obj: Dispute):
        return format_html_join(
            "\n",
            "<div>{} → {} ({}) {} {}</div>",
            (
                (e.from_state, e.to_state, e.cause, e.network, e.tx_hash)
                for e in obj.swap.events.all()
            ),
        )

    @admin.display(description="files from the parties")
    def files(self, obj: Dispute):
        return (
            format_html_join(
                "\n",
                '<div><a href="{}">{}</a> ({}, {} bytes, sha256 {})</div>',
                (
                    (
                        reverse("swap-evidence", args=[e.pk]),
                        e.name,
                        e.content_type,
                        e.size,
                        e.sha256,
                    )
                    for e in obj.evidence.all()
                ),
            )
            or "—"
        )

    @admin.display(description="the parties' messages")
    def conversation(self, obj: Dispute):
        return (
            format_html_join(
                "\n",
                "<div><strong>{}</strong> {}: {}</div>",
                (
                    (m.author.public_name, readable_time(m.created_at), m.body)
                    for m in obj.swap.messages.select_related("author")
                ),
            )
            or "—"
        )

    def save_model(self, request, obj, form, change):
        reply = form.cleaned_data.get("reply", "").strip()
        try:
            if reply:
                services.dispute_reply(dispute=obj, staff=request.user, body=reply)
            stored = Dispute.objects.get(pk=obj.pk)
            if stored.status == Dispute.Status.RESOLVED or not obj.outcome:
                return
            services.dispute_resolve(
                dispute=obj, staff=request.user, outcome=obj.outcome, resolution=obj.resolution
            )
        except services.SwapError as exc:
            self.message_user(request, str(exc.detail), level=messages.ERROR)
