"""Swap pages: "my swaps" and one swap's progress, next step and wallet button."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from chains.interface import ChainUnavailable
from core.api.errors import ApiError
from core.decimals import format_plain, parse_decimal
from swaps import errors, onchain, push, quotes, recovery, selectors, services, words
from swaps.api.serializers import quote_data, swap_detail_data
from swaps.models import HAPPY_PATH, Swap, SwapFault

# While the taker may still have to redeem (until the secret is revealed on chain), the
# secret in their browser is all that can.
SECRET_STATES = list(HAPPY_PATH[: HAPPY_PATH.index(Swap.State.SECRET_REVEALED)])


def _amounts(swap: Swap) -> dict[str, str]:
    """The swap's two amounts as pages show them: exact, without trailing zeros."""
    return {"base": format_plain(swap.amount), "quote": format_plain(swap.quote_amount)}


def _label(state: str) -> str:
    """A state's label from ``Swap.State``, in the page's language."""
    return str(Swap.State(state).label)


@login_required
@require_POST
def quote(request: HttpRequest) -> HttpResponse:
    """The take form's summary (htmx): ``swaps.quotes.swap_quote`` for the form's amount and
    wallet, or the sentence saying why no quote can be made."""
    amount = parse_decimal(request.POST.get("amount", "").strip())
    context: dict = {"quote": None, "problem": None}
    try:
        if amount is None or amount <= 0:
            raise errors.refuse(errors.INVALID_AMOUNT)
        listing_id = int(request.POST.get("listing", "0"))
        found = quotes.swap_quote(
            taker=cast(User, request.user),
            listing_id=listing_id,
            amount=amount,
            taker_address=request.POST.get("taker_address", ""),
        )
        context["quote"] = quote_data(found)
        context["times"] = quotes.timeline(found.terms)
        context["amount"] = format_plain(amount)
    except (ApiError, ValueError) as exc:
        context["problem"] = exc.detail if isinstance(exc, ApiError) else str(exc)
        context["retryable"] = isinstance(exc, ApiError) and exc.get_codes() in errors.RETRYABLE
    return render(request, "swaps/_quote.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def mine(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":  # "mark all read"
        services.notifications_read_all(user=cast(User, request.user))
        return redirect("swaps-mine")
    context = {
        "rows": [
            {"swap": swap, "amounts": _amounts(swap), "state_label": _label(swap.state)}
            for swap in selectors.swap_list(user=request.user)
        ],
        "notifications": selectors.notification_list(user=request.user).filter(
            read_at__isnull=True
        )[:20],
    }
    return render(request, "swaps/mine.html", context)


def _history_label(event: dict) -> str:
    """A fault's own label ("The seller did not lock in time"), else the state reached."""
    kind = event["cause"].removeprefix("fault:")
    if kind != event["cause"] and kind in SwapFault.Kind.values:
        return str(SwapFault.Kind(kind).label)
    return _label(event["to_state"])


def _windows(swap: Swap) -> dict[str, int]:
    """The deadlines' windows of `swap`'s networks (seconds), for deadlines not yet set."""
    times = onchain.schedule_for(swap)
    if times is None:
        return {"maker_response": 0, "taker_redeem": 0}
    return {"maker_response": times.maker_response, "taker_redeem": times.taker_redeem}


def _kit(swap: Swap, role: str) -> dict | None:
    """The public part of the party's recovery kit (swap.js adds the secret), or None while
    a chain of the swap is not known."""
    try:
        return recovery.kit(swap, role=role)
    except ChainUnavailable:
        return None


@login_required
def detail(request: HttpRequest, swap_id) -> HttpResponse:
    swap = selectors.swap_get(swap_id=swap_id, user=request.user)
    if swap is None:
        raise Http404
    view = swap_detail_data(swap, user=request.user)
    amounts = _amounts(swap)
    reached = {e.to_state for e in swap.events.all()}
    timeline = [
        {"state": step, "label": _label(step), "done": step in reached} for step in HAPPY_PATH
    ]
    history = [{**event, "label": _history_label(event)} for event in view["history"]]
    return render(
        request,
        "swaps/detail.html",
        {
            "swap": swap,
            "view": view,
            "amounts": amounts,
            "state_label": _label(swap.state),
            "timeline": timeline,
            "history": history,
            "role": view["role"],
            "secret_states": SECRET_STATES,
            "secret_needed": view["role"] == "taker" and swap.state in SECRET_STATES,
            "money": selectors.swap_money(swap=swap),
            "recovery_kit": _kit(swap, view["role"] or ""),
            "chat": selectors.swap_message_list(swap=swap, user=request.user),
            "dispute": selectors.dispute_view(swap=swap, user=request.user),
            "can_cancel": view["role"] == "taker" and swap.state == Swap.State.CREATED,
            "evidence_limit": _megabytes(settings.SWAP_EVIDENCE_MAX_BYTES),
            "status_line": words.status_line(swap, role=view["role"] or "", amounts=amounts),
            "countdown": words.COUNTDOWN.get(Swap.State(swap.state), ""),
            "windows": _windows(swap),
        },
    )


@require_GET
def recover(request: HttpRequest) -> HttpResponse:
    """The recovery page: a swap's recovery file is read in the browser (static/js/recovery.js);
    nothing is sent here. No sign-in: it must work for anyone holding a file."""
    return render(request, "swaps/recover.html")


@require_GET
def recover_offline(request: HttpRequest) -> HttpResponse:
    """The recovery page as one self-contained file (styles and script inline, texts in the
    reader's language) to save and open from disk when this site is down. Sent as a
    download: inline scripts run only where this site's CSP does not apply."""
    script_path = finders.find("js/recovery.js")
    script = Path(str(script_path)).read_text() if script_path else ""
    # "</script" inside the inlined code would end the element early.
    script = script.replace("</script", "<\\/script")
    response = render(request, "swaps/recover_offline.html", {"script": script})
    response["Content-Disposition"] = 'attachment; filename="swap-recovery.html"'
    return response


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def _own(request: HttpRequest, swap_id) -> Swap:
    swap = selectors.swap_get(swap_id=swap_id, user=request.user)
    if swap is None:
        raise Http404
    return swap


def _back(swap: Swap, anchor: str) -> HttpResponse:
    return redirect(f"{reverse('swap-page', args=[swap.pk])}#{anchor}")


@login_required
@require_POST
def message(request: HttpRequest, swap_id) -> HttpResponse:
    """Write to the other party (the page's form; swap.js sends it through the API)."""
    swap = _own(request, swap_id)
    try:
        services.swap_message_post(
            swap=swap, user=cast(User, request.user), body=request.POST.get("body", "")
        )
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    return _back(swap, "messages")


@login_required
@require_POST
def cancel(request: HttpRequest, swap_id) -> HttpResponse:
    """The taker cancels a swap before any lock."""
    swap = _own(request, swap_id)
    try:
        services.swap_cancel(swap_id=swap.pk, user=cast(User, request.user))
        messages.success(request, _("The swap is cancelled; nothing of yours moved."))
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    return _back(swap, "swap-status")


@login_required
@require_POST
def dispute(request: HttpRequest, swap_id) -> HttpResponse:
    """Open a dispute, or add to it, with a message and evidence files."""
    swap = _own(request, swap_id)
    try:
        services.dispute_open(
            swap=swap,
            user=cast(User, request.user),
            message=request.POST.get("message", ""),
            files=request.FILES.getlist("evidence"),
        )
        messages.success(request, _("Sent to staff and to the other party."))
    except ApiError as exc:
        messages.error(request, str(exc.detail))
    return _back(swap, "dispute")


@login_required
@require_GET
def evidence(request: HttpRequest, evidence_id: int) -> FileResponse:
    """An evidence file, to the swap's parties and staff only; always as a download with
    the type found from its content (never rendered by the browser as a page)."""
    found = selectors.evidence_get(evidence_id=evidence_id, user=request.user)
    if found is None:
        raise Http404
    response = FileResponse(
        found.file.open("rb"),
        as_attachment=True,
        filename=found.name,
        content_type=found.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    """Every notice of the reader, newest first; mark one or all read; turn Web Push on or
    off for this browser (static/js/push.js); where mail goes."""
    user = cast(User, request.user)
    if request.method == "POST":
        if request.POST.get("all"):
            services.notifications_read_all(user=user)
        elif request.POST.get("id", "").isdigit():
            services.notification_read(user=user, notification_id=int(request.POST["id"]))
        return redirect("swap-notifications")
    return render(
        request,
        "swaps/notifications.html",
        {
            "notes": selectors.notification_list(user=user)[:100],
            "email": selectors.verified_email(user=user),
            "push_enabled": push.enabled(),
            "push_key": push.public_key(),
        },
    )


@login_required
@require_GET
def notification_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Open a notice (from the page, a mail or a push): it is read, and its page opens."""
    note = selectors.notification_list(user=request.user).filter(pk=notification_id).first()
    if note is None:
        raise Http404
    services.notification_read(user=cast(User, request.user), notification_id=note.pk)
    if note.swap_id:
        return redirect("swap-page", swap_id=note.swap_id)
    if note.link.startswith("/") and not note.link.startswith("//"):  # a path here, only
        return redirect(note.link)
    return redirect("listings-mine")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The push service worker, at the site's root so its scope is the whole site."""
    path = finders.find("sw.js")
    response = HttpResponse(
        Path(str(path)).read_text() if path else "", content_type="text/javascript"
    )
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
