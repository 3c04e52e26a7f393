"""Finding 12 (amounts) and 3 (bounds): the strict ASCII decimal rule and bounded ids."""

from decimal import Decimal

import pytest
from rest_framework import serializers

from core.api.fields import AsciiDecimalField, DecimalRejected, IdField, parse_ascii_decimal


@pytest.mark.parametrize(
    "text",
    [
        "1_0",
        "１０",
        "١٠",
        "1e308",
        "1E2",
        "NaN",
        "nan",
        "Infinity",
        "-1",
        "+1",
        " 1",
        "1.",
        ".5",
        "1,5",
        "0x10",
        "",
        "9" * 43,
    ],
)
def test_parse_ascii_decimal_refuses_anything_but_plain_ascii_notation(text):
    with pytest.raises(DecimalRejected):
        parse_ascii_decimal(text)


@pytest.mark.parametrize("value", [1, 1.5, None, Decimal("1")])
def test_parse_ascii_decimal_refuses_non_strings(value):
    with pytest.raises(DecimalRejected):
        parse_ascii_decimal(value)


def test_parse_ascii_decimal_accepts_plain_notation_within_bounds():
    assert parse_ascii_decimal("1.25") == Decimal("1.25")
    assert parse_ascii_decimal("0001.500") == Decimal("1.5")
    assert parse_ascii_decimal("9" * 42 + "." + "9" * 18) == Decimal("9" * 42 + "." + "9" * 18)
    with pytest.raises(DecimalRejected) as places:
        parse_ascii_decimal("1." + "1" * 19)
    assert places.value.code == "max_decimal_places"


class _Input(serializers.Serializer):
    amount = AsciiDecimalField()
    listing = IdField()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "1_0", "listing": 1}, "amount"),
        ({"amount": "１０", "listing": 1}, "amount"),
        ({"amount": "1", "listing": "99999999999999999999"}, "listing"),
        ({"amount": "1", "listing": "１２"}, "listing"),
        ({"amount": "1", "listing": "1_2"}, "listing"),
        ({"amount": "1", "listing": 0}, "listing"),
        ({"amount": "1", "listing": 2**63}, "listing"),
    ],
)
def test_serializer_fields_name_the_refused_field(data, field):
    # when
    form = _Input(data=data)
    # then
    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_serializer_fields_accept_good_input():
    form = _Input(data={"amount": "2.5", "listing": "42"})
    assert form.is_valid(), form.errors
    assert form.validated_data == {"amount": Decimal("2.5"), "listing": 42}


def test_signed_decimals_take_one_leading_minus_only():
    assert parse_ascii_decimal("-2.5", signed=True) == Decimal("-2.5")
    for text in ["--2", "+2", "-", "- 2", "-1e2", "-１"]:
        with pytest.raises(DecimalRejected):
            parse_ascii_decimal(text, signed=True)
    with pytest.raises(DecimalRejected):
        parse_ascii_decimal("-2.5")
