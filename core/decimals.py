"""Exact decimals for amounts and prices: one context, an asset's places, base units, text.

Decimal's default context keeps 28 significant digits, so an 18-decimal amount above ten
billion, or such an amount times a price, is silently rounded there; ``Decimal.normalize()``
rounds the same way and writes ``1E+3``. Everything here computes in ``CTX``, wide enough for
two 60-digit columns multiplied together whatever the caller's context, and formats from the
digits. No floats anywhere.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_UP, Context, Decimal, InvalidOperation
from typing import overload

# Wide enough for 60-digit columns multiplied together, independent of the caller's context.
CTX = Context(prec=120)
# The amount columns (core.fields.ExactDecimalField's default): numeric(60, 18).
AMOUNT_DIGITS = 60
AMOUNT_PLACES = 18
# Largest value those columns hold: 42 integer digits and 18 places.
MAX_AMOUNT = CTX.subtract(
    CTX.power(10, AMOUNT_DIGITS - AMOUNT_PLACES), Decimal(1).scaleb(-AMOUNT_PLACES)
)


def places(decimals: int) -> int:
    """Decimal places an asset's amounts may have here: its own, at most the columns' 18."""
    return min(int(decimals), AMOUNT_PLACES)


def quantum(decimals: int) -> Decimal:
    """The smallest step of an asset's amounts here: ``0.000001`` for 6 decimals."""
    return Decimal(1).scaleb(-places(decimals))


def decimal_places(value: Decimal) -> int:
    """Places actually used by `value` (trailing zeros do not count)."""
    exponent = value.normalize(CTX).as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


# Plain ASCII decimal notation: no exponent, no "_" separators, no non-ASCII digits.
_PLAIN_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from an int, a Decimal or a string in plain ASCII decimal notation
    ("1.25", "-2.5"); None for anything else: floats, exponents ("1e308"), separators
    ("1_0"), full-width or other non-ASCII digits, NaN, Infinity, over 100 characters."""
    if isinstance(value, bool | float):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 100 or not _PLAIN_DECIMAL.fullmatch(text):
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def quantize(value: Decimal, decimals: int, *, rounding: str = ROUND_DOWN) -> Decimal:
    """`value` with exactly the asset's places, rounded by `rounding` (down by default)."""
    return value.quantize(quantum(decimals), rounding=rounding, context=CTX)


def round_up(value: Decimal, decimals: int) -> Decimal:
    """`value` rounded up to the asset's places (what a maker receives never falls short)."""
    return quantize(value, decimals, rounding=ROUND_UP)


def base_units(amount: Decimal, decimals: int) -> int:
    """`amount` in an asset's base units (wei for 18 decimals), exactly.

    Raises ValueError when `amount` has more places than the asset (it was not validated).
    """
    scaled = amount.scaleb(decimals, context=CTX)
    if scaled != scaled.to_integral_value(context=CTX):
        raise ValueError("more decimals than the asset has")
    return int(scaled)


def from_base_units(units: int, decimals: int) -> Decimal:
    """`units` base units as an exact Decimal with `decimals` places: (1_500_000, 6) -> 1.500000.

    Built from the digits, not by division, so no context precision can round it.
    """
    sign = 1 if units < 0 else 0
    return Decimal((sign, tuple(int(d) for d in str(abs(units))), -int(decimals)))


@overload
def format_fixed(value: Decimal, decimals: int) -> str: ...
@overload
def format_fixed(value: None, decimals: int) -> None: ...
@overload
def format_fixed(value: Decimal | None, decimals: int) -> str | None: ...
def format_fixed(value: Decimal | None, decimals: int) -> str | None:
    """`value` as API text: the asset's places exactly (cut, never rounded up), no exponent.

    ``format_fixed(Decimal("1.5"), 6) == "1.500000"``; None stays None.
    """
    if value is None:
        return None
    return format(quantize(value, decimals), "f")


@overload
def format_plain(value: Decimal, decimals: int | None = None) -> str: ...
@overload
def format_plain(value: None, decimals: int | None = None) -> None: ...
@overload
def format_plain(value: Decimal | None, decimals: int | None = None) -> str | None: ...
def format_plain(value: Decimal | None, decimals: int | None = None) -> str | None:
    """`value` as page text: exact, without exponent or trailing zeros (``1.5``, ``1000``).

    With `decimals`, first cut to the asset's places as ``format_fixed`` does. Works on the
    digits: ``normalize()`` would round past 28 digits and write ``1E+3``. None stays None.
    """
    if value is None:
        return None
    text = format(value if decimals is None else quantize(value, decimals), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
