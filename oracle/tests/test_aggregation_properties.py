"""Properties of the aggregation: what no single lying source can do."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.aggregation import Rules, Status, aggregate
from oracle.sources.base import Quote

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
RULES = Rules(
    max_age=timedelta(seconds=30),
    max_deviation_pct=Decimal("2"),
    quorum=3,
    degraded_min=2,
    halt_spread_pct=Decimal("5"),
    max_jump_pct=Decimal("10"),
    jump_window=timedelta(seconds=60),
)

centers = st.decimals(min_value="0.0001", max_value="1000000", places=4)
# Honest sources sit within 1 % of each other: offsets in [0, 1] % of the center.
offsets = st.decimals(min_value="0", max_value="0.01", places=6)
# The liar says anything: an absolute price (any sign or size), a multiple of the
# honest center, or a price just inside or outside the deviation band.
absolute_lies = st.one_of(
    st.decimals(min_value="-1000", max_value="100000000", places=8),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
)
relative_lies = st.one_of(
    st.decimals(min_value="-1", max_value="3", places=4),
    st.decimals(min_value="0.97", max_value="1.03", places=6),
)
# Mostly fresh (a stale or future-stamped liar is simply excluded), sometimes anything.
liar_ages = st.one_of(
    st.integers(min_value=0, max_value=29), st.integers(min_value=-3600, max_value=3600)
)


def quote(source: str, price: Decimal, age: float = 1) -> Quote:
    at = NOW - timedelta(seconds=age)
    return Quote(source=source, pair="BTC-USD", price=price, observed_at=at, fetched_at=at)


@settings(max_examples=400, deadline=None)
@given(
    center=centers,
    spreads=st.lists(offsets, min_size=2, max_size=6),
    lie=st.one_of(
        absolute_lies.map(lambda p: ("absolute", p)), relative_lies.map(lambda f: ("relative", f))
    ),
    liar_age=liar_ages,
)
def test_aggregate_price_stays_within_the_honest_range_whatever_one_source_says(
    center, spreads, lie, liar_age
):
    # given: 2..6 honest sources within 1 % and one liar with any price and any timestamp
    honest = [center * (1 + s) for s in spreads]
    kind, value = lie
    liar_price = value if kind == "absolute" else center * value
    quotes = [quote(f"honest{i}", p) for i, p in enumerate(honest)]
    quotes.append(quote("liar", liar_price, age=liar_age))
    # when
    result = aggregate(pair="BTC-USD", quotes=quotes, now=NOW, rules=RULES)
    # then: published, and never outside what the honest sources say
    assert result.tradeable
    assert result.price is not None
    assert min(honest) <= result.price <= max(honest)
    if len(honest) >= RULES.quorum:
        assert result.status == Status.OK


@settings(max_examples=200, deadline=None)
@given(
    prices=st.lists(st.decimals(min_value="90", max_value="110", places=2), min_size=1, max_size=7),
    seed=st.integers(),
)
def test_aggregate_does_not_depend_on_the_order_of_the_quotes(prices, seed):
    # given
    quotes = [quote(f"s{i}", p) for i, p in enumerate(prices)]
    shuffled = quotes[:]
    random.Random(seed).shuffle(shuffled)
    # when
    first = aggregate(pair="BTC-USD", quotes=quotes, now=NOW, rules=RULES)
    second = aggregate(pair="BTC-USD", quotes=shuffled, now=NOW, rules=RULES)
    # then
    assert first == second


@settings(max_examples=200, deadline=None)
@given(prices=st.lists(st.decimals(min_value="1", max_value="1000", places=3), max_size=7))
def test_aggregate_publishes_only_a_price_its_sources_span(prices):
    # given: any set of fresh quotes
    quotes = [quote(f"s{i}", p) for i, p in enumerate(prices)]
    # when
    result = aggregate(pair="BTC-USD", quotes=quotes, now=NOW, rules=RULES)
    # then: either no price, or one within the used sources and a majority behind it
    if result.price is None:
        assert not result.tradeable
    else:
        used = [s.price for s in result.sources]
        assert min(used) <= result.price <= max(used)
        assert 2 * len(used) > len(prices)
        assert len(used) >= RULES.degraded_min
