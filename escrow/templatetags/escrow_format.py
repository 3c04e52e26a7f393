"""Amounts on the shop pages: exact, without exponent or trailing zeros."""

from __future__ import annotations

from decimal import Decimal

from django import template

from core.decimals import format_plain

register = template.Library()


@register.filter
def amount(value: Decimal | None, decimals: int = 18) -> str:
    """``{{ order.total|amount:order.asset.decimals }}`` → ``6.06``."""
    return format_plain(value, int(decimals)) or ""
