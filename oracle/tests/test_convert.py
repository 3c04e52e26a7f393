"""Conversion arithmetic is exact whatever the process-wide decimal context is."""

from __future__ import annotations

from decimal import Decimal, localcontext

from oracle.services import convert_amount


def test_convert_amount_is_exact_past_28_digits():
    # given: an 18-decimal amount above ten billion, in Decimal's default 28-digit context
    amount = Decimal("12345678901.123456789012345678")
    with localcontext() as default:
        default.prec = 28
        # when
        result = convert_amount(amount=amount, price=Decimal("430.0666"))
    # then: amount x price = 5309464149697.9012414974568637621548, at 18 places
    assert result == Decimal("5309464149697.901241497456863762")


def test_convert_amount_rounds_half_even_at_18_places():
    result = convert_amount(amount=Decimal("0.000000000000000001"), price=Decimal("0.5"))
    assert result == Decimal("0")
    result = convert_amount(amount=Decimal("0.000000000000000003"), price=Decimal("0.5"))
    assert result == Decimal("0.000000000000000002")
