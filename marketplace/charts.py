"""The depth chart of a market: how much is offered up to each price, on both sides.

Drawn like the price chart (``oracle.charts``): an SVG of fixed height, positions across as
fractions of the width, pixels down; floats only place pixels, labels come from Decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from marketplace.selectors import DepthLevel
from oracle.charts import EDGE, HEIGHT, PLOT, WIDTH, Hover, Tick, label, nice_ticks, y_axis, y_pixel
from oracle.numbers import human

# Offers further than this factor from the middle price are left off the chart (one far-off
# offer would squeeze every other into a line); the tables still list them.
FAR = 3.0


@dataclass(frozen=True)
class DepthChart:
    ask_line: str
    ask_area: str
    bid_line: str
    bid_area: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    hovers: list[Hover]
    mid_x: float | None
    summary: str
    height: int = HEIGHT
    plot_height: int = PLOT
    width: int = WIDTH


def _steps(levels: list[DepthLevel], x, y, edge: float) -> tuple[str, str]:
    """A staircase from the best price outwards, then flat to `edge`; and its filled area."""
    if not levels:
        return "", ""
    start = x(levels[0].price)
    d = [f"M{start:.1f},{PLOT}"]
    for i, level in enumerate(levels):
        d.append(f"V{y(level.total):.1f}")
        following = x(levels[i + 1].price) if i + 1 < len(levels) else edge
        d.append(f"H{following:.1f}")
    line = " ".join(d)
    return line, f"{line} V{PLOT} Z"


def depth_chart(
    *,
    asks: list[DepthLevel],
    bids: list[DepthLevel],
    mid: Decimal | None,
    base_places: int | None,
    quote_places: int | None,
    base: str,
    quote: str,
) -> DepthChart | None:
    """The depth chart of both sides (each best price first), or None when both are empty.
    `mid` (the oracle's price) marks the middle; without it, the middle of the best prices."""
    if not asks and not bids:
        return None
    best = [float(side[0].price) for side in (bids, asks) if side]
    centre = float(mid) if mid else sum(best) / len(best)
    low_cut, high_cut = centre / FAR, centre * FAR
    asks = [lv for lv in asks if float(lv.price) <= high_cut]
    bids = [lv for lv in bids if float(lv.price) >= low_cut]
    prices = [float(lv.price) for lv in asks + bids] + ([float(mid)] if mid else [])
    if not prices:
        return None
    left, right = min(prices), max(prices)
    pad = (right - left) * 0.08 or abs(right) * 0.05 or 1.0
    left, right = max(0.0, left - pad), right + pad
    top_total = max([float(lv.total) for lv in asks + bids] or [1.0])
    bottom, top, y_ticks = y_axis(0.0, top_total)

    def x(price: Decimal | float) -> float:
        return (float(price) - left) / (right - left) * WIDTH

    def y(total: Decimal | float) -> float:
        return y_pixel(float(total), bottom, top)

    ask_line, ask_area = _steps(asks, x, y, WIDTH)
    bid_line, bid_area = _steps(bids, x, y, 0.0)
    values = nice_ticks(left, right, 4)
    step = values[1] - values[0] if len(values) > 1 else 1.0
    x_ticks = [
        Tick(at=round(x(v) / WIDTH * 100, 2), label=label(v, step))
        for v in values
        if left + (right - left) * EDGE <= v <= right - (right - left) * EDGE
    ]
    hovers = []
    for side, levels in ((_("sell"), asks), (_("buy"), bids)):
        for i, level in enumerate(levels):
            here = x(level.price)
            there = (
                x(levels[i + 1].price)
                if i + 1 < len(levels)
                else (WIDTH if levels is asks else 0.0)
            )
            start, width = min(here, there), abs(there - here)
            title = _(
                "%(side)s at %(price)s %(quote)s: %(amount)s %(base)s, %(total)s %(base)s "
                "from the best price"
            ) % {
                "side": side,
                "price": human(level.price, quote_places),
                "quote": quote,
                "amount": human(level.amount, base_places),
                "total": human(level.total, base_places),
                "base": base,
            }
            hovers.append(Hover(x=round(start, 1), width=round(max(width, 4.0), 1), title=title))
    summary = _(
        "Depth: %(asks)s sell offers from %(best_ask)s, %(bids)s buy offers from %(best_bid)s "
        "(%(quote)s per %(base)s)."
    ) % {
        "asks": len(asks),
        "best_ask": human(asks[0].price, quote_places) if asks else "—",
        "bids": len(bids),
        "best_bid": human(bids[0].price, quote_places) if bids else "—",
        "quote": quote,
        "base": base,
    }
    return DepthChart(
        ask_line=ask_line,
        ask_area=ask_area,
        bid_line=bid_line,
        bid_area=bid_area,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        hovers=hovers,
        mid_x=round(x(mid) / WIDTH * 100, 2) if mid else None,
        summary=summary,
    )
