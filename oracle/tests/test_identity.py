"""One coin on two networks (the same price symbol) trades 1:1, exactly while its USD
price is tradeable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from marketplace.tests.support import publish_prices
from oracle.selectors import pair_is_tradeable, price_get, price_pair
from oracle.services import pair_halt

pytestmark = pytest.mark.django_db


def test_the_same_price_symbol_is_priced_at_exactly_one(settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000.5"})
    # when
    agg = price_get(price_pair("eth", "ETH"))
    # then
    assert agg is not None and agg.pair == "ETH-ETH"
    assert agg.price == Decimal(1) and agg.tradeable
    assert pair_is_tradeable("ETH-ETH")


def test_it_follows_its_usd_leg_when_halted_and_is_unknown_without_one(settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000"})
    pair_halt(pair="ETH-USD", reason="jump", user=UserFactory())
    # then: halted with the leg; a symbol with no USD price has no identity price
    halted = price_get("ETH-ETH")
    assert halted is not None and not halted.tradeable and halted.price is None
    assert price_get("NOPE-NOPE") is None
    assert price_get("USD-USD") is None
