"""Decimal helpers for amounts and prices: places per asset, parsing, formatting. No floats."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Context, Decimal, InvalidOperation

from marketplace.models import AMOUNT_DIGITS, AMOUNT_PLACES

# Wide enough for 60-digit columns multiplied together, independent of the caller's context.
CTX = Context(prec=120)
# Largest value the columns hold: 42 integer digits.
MAX_VALUE = CTX.subtract(
    CTX.power(10, AMOUNT_DIGITS - AMOUNT_PLACES), Decimal(1).scaleb(-AMOUNT_PLACES)
)


def places(decimals: int) -> int:
    """Decimal places an asset's amounts may have here: its own, at most the column's 18."""
    return min(int(decimals), AMOUNT_PLACES)


def decimal_places(value: Decimal) -> int:
    """Places actually used by `value` (trailing zeros do not count)."""
    exponent = value.normalize(CTX).as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


def parse_decimal(value: object) -> Decimal | None:
    """A finite Decimal from a string, int or Decimal; None for anything else (floats too)."""
    if isinstance(value, bool | float):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 100:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def quantum(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-places(decimals))


def fmt(value: Decimal | None, decimals: int) -> str | None:
    """`value` as a plain decimal string with the asset's places, never in exponent notation."""
    if value is None:
        return None
    return format(value.quantize(quantum(decimals), rounding=ROUND_DOWN, context=CTX), "f")


def round_up(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(quantum(decimals), rounding=ROUND_UP, context=CTX)


def base_units(amount: Decimal, decimals: int) -> int:
    """`amount` in an asset's base units (wei for 18 decimals), exactly.

    Raises ValueError when `amount` has more places than the asset (it was not validated).
    """
    scaled = amount.scaleb(decimals, context=CTX)
    if scaled != scaled.to_integral_value(context=CTX):
        raise ValueError("more decimals than the asset has")
    return int(scaled)
