"""Server-rendered pages of the oracle."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from oracle.selectors import price_list


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what a swap is, and the live price ticker."""
    return render(request, "oracle/home.html", {"prices": price_list()})
