"""Server-rendered pages of the oracle."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from oracle.charts import price_chart
from oracle.selectors import (
    CHART_RANGES,
    DEFAULT_CHART_RANGE,
    fixed_prices,
    price_history,
    price_list,
)


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what a swap is, the live price ticker and a price chart.

    ``?chart=PAIR&range=1h|6h|1d|7d|30d`` chooses the chart; ``part=chart`` answers the
    chart alone (htmx swaps it in when the pair or range changes)."""
    prices = price_list()
    fixed = fixed_prices()  # configured test prices: a flat line, no chart
    chartable = [p.pair for p in prices if p.pair not in fixed]
    pair = request.GET.get("chart", "").upper()
    pair = pair if pair in chartable else (chartable[0] if chartable else "")
    range_key = request.GET.get("range", "")
    range_key = range_key if range_key in CHART_RANGES else DEFAULT_CHART_RANGE
    now = timezone.now()
    chart = None
    if pair:
        chart = price_chart(
            price_history(pair=pair, range_key=range_key, now=now),
            start=now - CHART_RANGES[range_key][1],
            end=now,
            pair=pair,
            places=None,
        )
    context = {
        "prices": prices,
        "chart_pairs": chartable,
        "chart_pair": pair,
        "chart": chart,
        "range": range_key,
        "ranges": list(CHART_RANGES),
    }
    if request.GET.get("part") == "chart":
        return render(request, "oracle/_home_chart.html", context)
    return render(request, "oracle/home.html", context)
