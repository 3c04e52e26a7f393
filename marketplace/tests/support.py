"""Test helpers: publish real oracle prices (through the oracle's own service)."""

from __future__ import annotations

from decimal import Decimal

from django.test import TestCase
from django.utils import timezone

from oracle.aggregation import fixed_price
from oracle.services import price_publish


def publish_prices(settings, prices: dict[str, str]) -> None:
    """Publish `prices` (pair -> decimal string) as the oracle's configured fixed prices."""
    settings.ORACLE_FIXED_PRICES = dict(prices)
    with TestCase.captureOnCommitCallbacks(execute=True):
        for pair, price in prices.items():
            agg = fixed_price(pair=pair, price=Decimal(price), now=timezone.now())
            price_publish(aggregate=agg, previous=None)
