"""The site's palette (static/css/site.css) meets WCAG AA in the light and the dark scheme:
text 4.5:1 on every surface it is used on, control borders 3:1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

CSS = Path(settings.BASE_DIR) / "static" / "css" / "site.css"


def _palette(scheme: str) -> dict[str, str]:
    """The custom properties of the block after the ``/* palette: <scheme> */`` comment."""
    text = CSS.read_text()
    start = text.index(f"/* palette: {scheme} */")
    block = text[start : text.index("}", start)]
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# (text, background) pairs the stylesheet uses for text.
TEXT_PAIRS = [
    *[
        (fg, bg)
        for fg in ("fg", "muted", "accent", "buy", "sell", "warn")
        for bg in ("bg", "surface", "surface-2")
    ],
    ("accent", "accent-soft"),  # info badges, the chosen offer's row
    ("fg", "accent-soft"),
    ("buy", "buy-soft"),  # badges, messages
    ("sell", "sell-soft"),  # errors beside their field
    ("fg", "sell-soft"),
    ("warn", "warn-soft"),
    ("muted", "buy-soft"),
    ("on-accent", "accent"),  # primary buttons
    ("on-state", "buy"),  # buy buttons
    ("on-state", "sell"),  # sell buttons
]
# (border, background) of controls: inputs, buttons, menus.
BORDER_PAIRS = [("line-strong", "bg"), ("line-strong", "surface")]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_colours_meet_wcag_aa(scheme):
    # given
    palette = _palette(scheme)
    # when
    failing = {
        f"{fg} on {bg}": round(contrast(palette[fg], palette[bg]), 2)
        for fg, bg in TEXT_PAIRS
        if contrast(palette[fg], palette[bg]) < 4.5
    }
    # then
    assert failing == {}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_control_borders_meet_the_non_text_contrast_minimum(scheme):
    # given
    palette = _palette(scheme)
    # then
    assert all(contrast(palette[a], palette[b]) >= 3 for a, b in BORDER_PAIRS)


def test_both_schemes_define_the_same_colours():
    # then: a colour missing in dark mode would silently fall back to the light one
    assert _palette("light").keys() == _palette("dark").keys()


def test_contrast_of_black_on_white_is_21():
    # then: the formula itself
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
