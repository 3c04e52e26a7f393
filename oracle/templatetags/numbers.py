"""Template filters for numbers people read: ``{{ price|num:quote_asset }}``.

``num`` writes ``<data value="EXACT" title="EXACT">HUMAN</data>``: rounded, grouped and in the
page's digits for reading, the exact value (as the API gives it) for hovering, copying and
machines.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from oracle import numbers

register = template.Library()


def _places(arg: Any) -> int | None:
    """An asset (its ``decimals``), a number of places, or nothing."""
    if arg is None or arg == "":
        return None
    decimals = getattr(arg, "decimals", arg)
    try:
        return int(decimals)
    except (TypeError, ValueError):
        return None


@register.filter
def num(value: Any, places: Any = None) -> str:
    """`value` for reading, with its exact value on hover (see the module docstring)."""
    shown = numbers.human(value, _places(places))
    if not shown:
        return ""
    exact = numbers.exact(value, _places(places))
    return format_html('<data class="num" value="{}" title="{}">{}</data>', exact, exact, shown)


@register.filter
def human(value: Any, places: Any = None) -> str:
    """`value` for reading, as text (in attributes and labels)."""
    return numbers.human(value, _places(places))


@register.filter
def exact(value: Any, places: Any = None) -> str:
    """`value` exactly, as plain text."""
    return numbers.exact(value, _places(places))


@register.filter
def digits(value: Any) -> str:
    """Text (a count, a date) with its digits in the page's language."""
    return numbers.localize_digits(str(value))
