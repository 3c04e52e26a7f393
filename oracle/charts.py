"""Charts drawn on the server as SVG: the geometry and the labels, for templates to write out.

A chart is one ``<svg>`` of a fixed height and the full width of its box. Horizontal
positions are fractions of the width (per mille in the plot's own stretched ``viewBox``,
percent for labels and grid lines), vertical ones are pixels, so labels stay readable at
any width and no script or inline style is needed (the CSP allows neither). Values are
floats here because they only place pixels; every number a person reads is formatted
from the exact Decimal by ``oracle.numbers``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from oracle.numbers import human, localize_digits

WIDTH = 1000  # plot units across (the plot's viewBox), i.e. per mille of the width
HEIGHT = 220  # pixels of the whole chart
AXIS = 24  # pixels under the plot for the time or price labels
PLOT = HEIGHT - AXIS
PAD = 14  # pixels kept free above the highest value
EDGE = 0.04  # no time label closer than this share of the width to either end


@dataclass(frozen=True)
class Tick:
    """A grid line and its label: ``at`` is a percent across (x) or pixels down (y)."""

    at: float
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class Hover:
    """A strip of the plot (plot units) that shows `title` when the pointer is over it."""

    x: float
    width: float
    title: str


def nice_step(span: float, count: int) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about `count` steps over `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values from about `low` to `high` (inclusive of both ends when round)."""
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(high) * 0.01 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, count)
    first = math.ceil(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def label(value: float, step: float) -> str:
    """A tick value for reading: as many places as the step needs, in the page's digits."""
    places = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return human(Decimal(f"{value:.{min(places, 12)}f}"), places)


def y_axis(low: float, high: float) -> tuple[float, float, list[Tick]]:
    """The plotted range (round values around `low`..`high`) and its ticks (pixels down)."""
    values = nice_ticks(low, high)
    step = values[1] - values[0] if len(values) > 1 else 1.0
    bottom = min(values[0], low)
    top = max(values[-1], high)
    ticks = [Tick(at=round(y_pixel(v, bottom, top), 1), label=label(v, step)) for v in values]
    return bottom, top, ticks


def y_pixel(value: float, bottom: float, top: float) -> float:
    span = top - bottom or 1.0
    return PAD + (1 - (value - bottom) / span) * (PLOT - PAD)


def x_unit(value: float, left: float, right: float) -> float:
    span = right - left or 1.0
    return (value - left) / span * WIDTH


# (step, date format) for time axes, finest first; the first giving at most 6 ticks is used.
_TIME_STEPS = [
    (timedelta(minutes=5), "H:i"),
    (timedelta(minutes=10), "H:i"),
    (timedelta(minutes=15), "H:i"),
    (timedelta(minutes=30), "H:i"),
    (timedelta(hours=1), "H:i"),
    (timedelta(hours=2), "H:i"),
    (timedelta(hours=3), "H:i"),
    (timedelta(hours=6), "H:i"),
    (timedelta(hours=12), "H:i"),
    (timedelta(days=1), "j M"),
    (timedelta(days=2), "j M"),
    (timedelta(days=7), "j M"),
]


def time_ticks(start: datetime, end: datetime, most: int = 6) -> list[Tick]:
    """Round times between `start` and `end` (local time), at most `most` of them."""
    span = end - start
    step, fmt = next(((s, f) for s, f in _TIME_STEPS if span / s <= most), _TIME_STEPS[-1])
    seconds = int(step.total_seconds())
    utc_offset = timezone.localtime(start).utcoffset()
    offset = int(utc_offset.total_seconds()) if utc_offset else 0
    first = math.ceil((start.timestamp() + offset) / seconds) * seconds - offset
    ticks = []
    at = first
    while at <= end.timestamp():
        moment = datetime.fromtimestamp(at, tz=start.tzinfo or timezone.get_current_timezone())
        share = (at - start.timestamp()) / (span.total_seconds() or 1)
        if EDGE <= share <= 1 - EDGE:  # a label on the very edge would be cut in half
            text = localize_digits(dateformat.format(timezone.localtime(moment), fmt))
            ticks.append(Tick(at=round(share * 100, 2), label=text))
        at += seconds
    return ticks


@dataclass(frozen=True)
class Candle:
    """One time bucket of a price: open, high, low and close (quote per base)."""

    start: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal


@dataclass(frozen=True)
class PriceChart:
    """A price line over time with its axes, hover strips and a summary for screen readers."""

    line: str
    area: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    hovers: list[Hover]
    last_y: float
    last: Decimal
    low: Decimal
    high: Decimal
    first: Decimal
    change_pct: Decimal
    summary: str
    height: int = HEIGHT
    plot_height: int = PLOT
    width: int = WIDTH


def _points(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def price_chart(
    candles: list[Candle], *, start: datetime, end: datetime, pair: str, places: int | None
) -> PriceChart | None:
    """The chart of `candles` (oldest first) between `start` and `end`, or None with fewer
    than two. `places` caps the decimals of the values shown (the quote asset's)."""
    if len(candles) < 2:
        return None
    lows = [float(c.low) for c in candles]
    highs = [float(c.high) for c in candles]
    bottom, top, y_ticks = y_axis(min(lows), max(highs))
    left, right = start.timestamp(), end.timestamp()
    points = [
        (x_unit(c.start.timestamp(), left, right), y_pixel(float(c.close), bottom, top))
        for c in candles
    ]
    line = _points(points)
    area = _points([(points[0][0], PLOT), *points, (points[-1][0], PLOT)])
    step = WIDTH / max(len(candles), 1)
    hovers = []
    for (x, _y), candle in zip(points, candles, strict=True):
        when = localize_digits(dateformat.format(timezone.localtime(candle.start), "j M H:i"))
        title = _("%(when)s: %(close)s (low %(low)s, high %(high)s)") % {
            "when": when,
            "close": human(candle.close, places),
            "low": human(candle.low, places),
            "high": human(candle.high, places),
        }
        hovers.append(Hover(x=round(max(0.0, x - step / 2), 1), width=round(step, 1), title=title))
    first, last = candles[0].close, candles[-1].close
    low = min(c.low for c in candles)
    high = max(c.high for c in candles)
    change = (last - first) / first * 100 if first else Decimal(0)
    summary = _(
        "%(pair)s from %(start)s to %(end)s: opened at %(first)s, now %(last)s; "
        "lowest %(low)s, highest %(high)s."
    ) % {
        "pair": pair,
        "start": localize_digits(dateformat.format(timezone.localtime(start), "j M H:i")),
        "end": localize_digits(dateformat.format(timezone.localtime(end), "j M H:i")),
        "first": human(first, places),
        "last": human(last, places),
        "low": human(low, places),
        "high": human(high, places),
    }
    return PriceChart(
        line=line,
        area=area,
        x_ticks=time_ticks(start, end),
        y_ticks=y_ticks,
        hovers=hovers,
        last_y=round(points[-1][1], 1),
        last=last,
        low=low,
        high=high,
        first=first,
        change_pct=change.quantize(Decimal("0.01")),
        summary=summary,
    )
