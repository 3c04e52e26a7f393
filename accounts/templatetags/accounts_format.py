"""Template filters of the account pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def plain_amount(value: Decimal | None) -> str:
    """An exact amount without exponent or trailing zeros: ``1.500000`` shows as ``1.5``.

    Works on the digits, not with ``Decimal.normalize()``, whose context precision
    (28 digits) would round an 18-decimal amount above ten billion.
    """
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
