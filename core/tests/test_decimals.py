"""core.decimals: exact past the default 28 digits, an asset's places, text without surprises."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from core.decimals import (
    CTX,
    MAX_AMOUNT,
    base_units,
    decimal_places,
    format_fixed,
    format_plain,
    from_base_units,
    parse_decimal,
    places,
    quantize,
    round_up,
)

# 42 integer digits and 18 places: 60 significant digits (the default context keeps 28).
WIDE = Decimal("123456789012345678901234567890123456789012.123456789012345678")


def test_format_plain_has_no_exponent_and_no_trailing_zeros():
    # given / when / then
    assert format_plain(Decimal("1000")) == "1000"
    assert format_plain(Decimal("1E+3")) == "1000"
    assert format_plain(Decimal("1.500000")) == "1.5"
    assert format_plain(Decimal("0E-18")) == "0"
    assert format_plain(Decimal("0.000000000000000001")) == "0.000000000000000001"
    assert format_plain(None) is None


def test_format_plain_is_exact_past_28_digits_where_normalize_rounds():
    # given: an 18-decimal amount above ten billion, in Decimal's default 28-digit context
    # (some libraries widen the process-wide context on import; nothing may rely on that)
    amount = Decimal("12345678901.123456789012345678")
    with localcontext() as default:
        default.prec = 28
        # when
        shown = format_plain(amount)
        normalized = format(amount.normalize(), "f")
    # then
    assert shown == "12345678901.123456789012345678"
    assert normalized == "12345678901.12345678901234568"
    assert format_plain(WIDE) == str(WIDE)


def test_format_plain_with_decimals_cuts_to_the_assets_places_first():
    assert format_plain(Decimal("1.2345678"), 6) == "1.234567"
    assert format_plain(Decimal("2000.500000"), 6) == "2000.5"


def test_format_fixed_keeps_the_assets_places_and_cuts_never_rounds_up():
    assert format_fixed(Decimal("1.5"), 6) == "1.500000"
    assert format_fixed(Decimal("1.9999999"), 6) == "1.999999"
    assert format_fixed(Decimal("1E+3"), 0) == "1000"
    assert format_fixed(WIDE, 18) == str(WIDE)
    # an asset with more decimals than the columns keeps the columns' 18
    assert format_fixed(Decimal("1"), 24) == "1.000000000000000000"
    assert format_fixed(None, 6) is None


def test_arithmetic_is_exact_whatever_the_callers_context():
    # given: a caller that narrowed its context
    with localcontext() as narrow:
        narrow.prec = 10
        # when
        product = CTX.multiply(WIDE, Decimal("2"))
        rounded = quantize(WIDE, 6, rounding=ROUND_HALF_EVEN)
    # then
    assert product == Decimal("246913578024691357802469135780246913578024.246913578024691356")
    assert rounded == Decimal("123456789012345678901234567890123456789012.123457")
    assert round_up(Decimal("1.0000001"), 6) == Decimal("1.000001")


def test_base_units_round_trip_exactly():
    # given
    units = 123456789012345678901234567890123456789012123456789012345678
    # then
    assert base_units(WIDE, 18) == units
    assert from_base_units(units, 18) == WIDE
    assert from_base_units(1_500_000, 6) == Decimal("1.5")
    assert str(from_base_units(1_500_000, 6)) == "1.500000"
    assert base_units(Decimal("1.5"), 6) == 1_500_000
    with pytest.raises(ValueError):
        base_units(Decimal("0.0000001"), 6)


def test_parse_decimal_refuses_floats_and_non_finite_values():
    assert parse_decimal(" 1.25 ") == Decimal("1.25")
    assert parse_decimal(3) == Decimal(3)
    for bad in (1.5, True, "abc", "NaN", "Infinity", "", "1" * 101, None, [1]):
        assert parse_decimal(bad) is None


def test_places_and_limits_follow_the_amount_columns():
    assert places(6) == 6
    assert places(24) == 18
    assert decimal_places(Decimal("1.500")) == 1
    assert decimal_places(Decimal("1E+3")) == 0
    assert Decimal("999999999999999999999999999999999999999999.999999999999999999") == MAX_AMOUNT


@pytest.mark.parametrize(
    "text", ["1_0", "１２", "1e308", "1E2", "NaN", "Infinity", "0x10", "1.2.3", ""]
)
def test_parse_decimal_accepts_only_plain_ascii_notation(text):
    from core.decimals import parse_decimal

    assert parse_decimal(text) is None


def test_parse_decimal_reads_plain_notation_exactly():
    from core.decimals import parse_decimal

    assert parse_decimal(" 1.25 ") == Decimal("1.25")
    assert parse_decimal("-2.5") == Decimal("-2.5")
    assert parse_decimal(".5") == Decimal("0.5")
