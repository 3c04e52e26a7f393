"""Swap pages: "my swaps" and one swap's progress, next step and wallet button."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import User
from swaps import selectors, services
from swaps.api.serializers import swap_detail_data
from swaps.models import Swap

# The timeline's steps, in order; the terminal failure states are shown apart.
STEPS = [
    Swap.State.CREATED,
    Swap.State.TAKER_LOCKED,
    Swap.State.MAKER_LOCKED,
    Swap.State.SECRET_REVEALED,
    Swap.State.COMPLETED,
]


# While the taker may still have to redeem, the secret in their browser is all that can.
SECRET_STATES = [Swap.State.CREATED, Swap.State.TAKER_LOCKED, Swap.State.MAKER_LOCKED]


@login_required
@require_http_methods(["GET", "POST"])
def mine(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":  # "mark all read"
        services.notifications_read_all(user=cast(User, request.user))
        return redirect("swaps-mine")
    context = {
        "swaps": selectors.swap_list(user=request.user),
        "notifications": selectors.notification_list(user=request.user).filter(
            read_at__isnull=True
        )[:20],
    }
    return render(request, "swaps/mine.html", context)


@login_required
def detail(request: HttpRequest, swap_id) -> HttpResponse:
    swap = selectors.swap_get(swap_id=swap_id, user=request.user)
    if swap is None:
        raise Http404
    view = swap_detail_data(swap, user=request.user)
    reached = {e.to_state for e in swap.events.all()}
    timeline = [
        {"state": step, "label": Swap.State(step).label, "done": step in reached} for step in STEPS
    ]
    return render(
        request,
        "swaps/detail.html",
        {
            "swap": swap,
            "view": view,
            "timeline": timeline,
            "role": view["role"],
            "secret_states": SECRET_STATES,
            "secret_needed": view["role"] == "taker" and swap.state in SECRET_STATES,
        },
    )
