"""Bounded input fields for every API: numbers with explicit limits, amounts in ASCII only.

Python's ``Decimal()`` and ``int()`` accept far more than a person types: ``"1_0"``,
full-width and other Unicode digits, ``"1e308"``, ``"NaN"``, ``"Infinity"``. Every amount,
price or id that comes from a client goes through :func:`parse_ascii_decimal` (or the
serializer fields below), which accept plain ASCII decimal notation only and bound it.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# The largest id a 64-bit primary key holds.
ID_MAX = 2**63 - 1
# Widest amount/price column: 60 digits (42 before the point, 18 after).
AMOUNT_MAX_INTEGER_DIGITS = 42
AMOUNT_MAX_PLACES = 18
# Digits, one optional point and more digits; no sign, exponent, separators or spaces inside.
# (Lengths are bounded again, per field, after the match; 100 keeps the match itself cheap.)
ASCII_DECIMAL = re.compile(r"^[0-9]{1,100}(\.[0-9]{1,100})?$")
_ASCII_INTEGER = re.compile(r"^-?[0-9]{1,19}$")


class DecimalRejected(ValueError):
    """Why a text is not an acceptable amount: ``code`` is a stable snake_case word."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def parse_ascii_decimal(
    value: object,
    *,
    max_integer_digits: int = AMOUNT_MAX_INTEGER_DIGITS,
    max_places: int = AMOUNT_MAX_PLACES,
    allow_zero: bool = False,
    signed: bool = False,
) -> Decimal:
    """A non-negative ``Decimal`` from a plain ASCII decimal string such as ``"1.25"``
    (with ``signed``, a leading ``-`` is allowed too, e.g. a margin of ``"-2.5"``).

    Refuses (``DecimalRejected``): non-strings (ints and floats too: amounts travel as
    strings), signs, exponents, ``_`` separators, non-ASCII digits, ``NaN``/``Infinity``,
    more than ``max_integer_digits`` digits before the point or ``max_places`` after it,
    and zero unless ``allow_zero``. Leading and trailing spaces are not accepted either.
    """
    if not isinstance(value, str) or not value.isascii():
        raise DecimalRejected("invalid_decimal", 'Enter a decimal number as a string, e.g. "1.25".')
    negative = signed and value.startswith("-")
    digits = value[1:] if negative else value
    if not ASCII_DECIMAL.match(digits):
        raise DecimalRejected("invalid_decimal", 'Enter a decimal number, e.g. "1.25".')
    whole, _point, places = digits.partition(".")
    if len(whole.lstrip("0")) > max_integer_digits:
        raise DecimalRejected("out_of_range", "This number is too large.")
    if len(places.rstrip("0")) > max_places:
        raise DecimalRejected("max_decimal_places", f"At most {max_places} decimal places.")
    try:
        number = -Decimal(digits) if negative else Decimal(digits)
    except InvalidOperation as exc:  # unreachable after the pattern; kept for safety
        raise DecimalRejected("invalid_decimal", "Enter a decimal number.") from exc
    if number == 0 and not allow_zero:
        raise DecimalRejected("must_be_positive", "Enter a number greater than zero.")
    return number


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": r"^[0-9]{1,42}(\.[0-9]{1,18})?$"}
)
class AsciiDecimalField(serializers.Field):
    """A non-negative amount or price as an ASCII decimal string, bounded (see the module)."""

    default_error_messages = {"invalid_decimal": _('Enter a decimal number, e.g. "1.25".')}

    def __init__(
        self,
        *,
        max_integer_digits: int = AMOUNT_MAX_INTEGER_DIGITS,
        max_places: int = AMOUNT_MAX_PLACES,
        allow_zero: bool = False,
        signed: bool = False,
        **kwargs,
    ):
        self.max_integer_digits = max_integer_digits
        self.max_places = max_places
        self.allow_zero = allow_zero
        self.signed = signed
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> Decimal:
        try:
            return parse_ascii_decimal(
                data,
                max_integer_digits=self.max_integer_digits,
                max_places=self.max_places,
                allow_zero=self.allow_zero,
                signed=self.signed,
            )
        except DecimalRejected as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from None

    def to_representation(self, value: Decimal) -> str:
        return format(value, "f")


class BoundedIntegerField(serializers.IntegerField):
    """An integer with explicit bounds (default: a 64-bit id, 1 to 2**63 - 1), ASCII digits only.

    DRF's ``IntegerField`` takes ``"１２"`` and ``"1_0"`` (through ``int()``) and, without
    ``max_value``, numbers no database column holds.
    """

    def __init__(self, *, min_value: int = 1, max_value: int = ID_MAX, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str) and not _ASCII_INTEGER.match(data.strip()):
            if data.strip().lstrip("-").isdigit() and data.isascii():
                if data.strip().startswith("-"):
                    self.fail("min_value", min_value=self.min_value)
                self.fail("max_value", max_value=self.max_value)
            self.fail("invalid")
        return super().to_internal_value(data)  # type: ignore[arg-type]


class IdField(BoundedIntegerField):
    """A primary key given by a client: 1 to 2**63 - 1."""
