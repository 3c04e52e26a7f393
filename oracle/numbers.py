"""Numbers for people: amounts and prices rounded to sensible places, grouped and written in
the page's language. Pages show these; the exact value stays in a ``title`` and in the API.

Display only: nothing computed from these strings is ever sent anywhere.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from django.utils import formats, numberformat
from django.utils.translation import get_language

from core.decimals import CTX, format_plain, parse_decimal

# Languages whose numbers are written differently from Django's formats for them (CLDR):
# Bengali uses its own digits and groups by lakh and crore (১২,৩৪,৫৬৭.৮৯).
_DIGITS = {"bn": "০১২৩৪৫৬৭৮৯"}
_GROUPING = {"bn": (3, 2, 0)}
# Significant digits kept below 1 (0.0005882), places kept from 1 and from 1,000 up.
SIGNIFICANT_BELOW_ONE = 4
PLACES_FROM_ONE = 4
PLACES_FROM_THOUSAND = 2


def display_places(value: Decimal, max_places: int | None = None) -> int:
    """Decimal places worth showing for `value`: 2 from 1,000 up, 4 from 1, else 4
    significant digits; never more than `max_places` (the asset's own)."""
    size = abs(value)
    if size == 0:
        wanted = 0
    elif size >= 1000:
        wanted = PLACES_FROM_THOUSAND
    elif size >= 1:
        wanted = PLACES_FROM_ONE
    else:
        wanted = SIGNIFICANT_BELOW_ONE - 1 - size.adjusted()
    return wanted if max_places is None else min(wanted, max_places)


def localize_digits(text: str, language: str | None = None) -> str:
    """`text` with ASCII digits written in `language`'s digits (default: the active one)."""
    digits = _DIGITS.get((language or get_language() or "en").split("-")[0])
    return text.translate(str.maketrans("0123456789", digits)) if digits else text


def human(value: object, max_places: int | None = None, *, language: str | None = None) -> str:
    """`value` (Decimal, int or numeric text) for reading: rounded half-even to
    ``display_places``, trailing zeros dropped, grouped, in the language's digits.
    ``human(Decimal("352.9411764705882352941176471")) == "352.9412"``; "" for None or junk."""
    number = parse_decimal(value)
    if number is None:
        return ""
    places = display_places(number, max_places)
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN, context=CTX)
    if rounded == 0 and number != 0:
        # Too small for the places worth showing: show it as exactly as the asset allows.
        rounded = parse_decimal(format_plain(number, max_places)) or Decimal(0)
    lang = (language or get_language() or "en").split("-")[0]
    text = numberformat.format(
        format_plain(rounded) or "0",
        formats.get_format("DECIMAL_SEPARATOR", lang),
        grouping=_GROUPING.get(lang, formats.get_format("NUMBER_GROUPING", lang) or 3),
        thousand_sep=formats.get_format("THOUSAND_SEPARATOR", lang),
        force_grouping=True,
    )
    return localize_digits(text, lang)


def exact(value: object, max_places: int | None = None) -> str:
    """The exact value as plain text (ASCII digits, no grouping, no trailing zeros), cut to
    `max_places` as the API does; "" for None or junk."""
    number = parse_decimal(value)
    if number is None:
        return ""
    return format_plain(number, max_places)
