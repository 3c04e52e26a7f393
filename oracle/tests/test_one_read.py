"""``oracle.selectors.one_read``: the oracle read once for a whole operation (issue #15)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.tests.support import publish_prices
from oracle import selectors

pytestmark = pytest.mark.django_db


def test_one_read_reads_the_oracle_once_for_every_price_inside_the_block(
    settings, django_assert_num_queries
):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    # when: direct, crossed and listed prices inside one block
    with django_assert_num_queries(2), selectors.one_read():  # the direct pairs, the halts
        eth = selectors.price_get("ETH-USD")
        crossed = selectors.price_get("ETH-TEST")
        (test,) = selectors.price_list(pairs=["TEST-USD"])
    # then
    assert eth is not None and eth.price == Decimal("2000")
    assert crossed is not None and crossed.price == Decimal("2000")
    assert test is not None and test.price == Decimal("1")


def test_outside_one_read_each_price_read_reads_the_oracle_again(
    settings, django_assert_num_queries
):
    # given
    publish_prices(settings, {"ETH-USD": "2000"})
    with selectors.one_read():
        selectors.price_get("ETH-USD")
    # when / then: the block's read is gone once it ends
    with django_assert_num_queries(2):
        selectors.price_get("ETH-USD")
    with django_assert_num_queries(2):
        selectors.price_get("ETH-USD")
