"""Adapters over HTTP against the exchange test server, then aggregation: the
published price survives one source being down or lying."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from oracle.aggregation import Status, aggregate
from oracle.sources import (
    InMemoryBackoffStore,
    MeasuredUsdtUsd,
    TokenBucket,
    build_sources,
    fetch_quotes,
)
from testing.exchange_server import SOURCES, ExchangeTestServer

TRUTH = Decimal("67000")
# What each honest source says about BTC (Binance in USDT) and USDT-USD.
HONEST_BTC = {
    "coinbase": ("BTC-USD", "67010.01"),
    "kraken": ("BTC-USD", "66990.50000"),
    "binance": ("BTC-USDT", "67012.34000000"),  # x ~0.99985 USDT-USD = ~67002
    "coingecko": ("BTC-USD", "66998.4271"),
}
HONEST_USDT = {"coinbase": "0.99985", "kraken": "0.99990", "coingecko": "0.9998"}


@pytest.fixture
def server():
    with ExchangeTestServer() as srv:
        for source, (pair, price) in HONEST_BTC.items():
            srv.set_price(source, pair, price)
        for source, price in HONEST_USDT.items():
            srv.set_price(source, "USDT-USD", price)
        yield srv


@pytest.fixture
def sources(server, settings):
    """All four adapters from the settings, Binance converting through a USDT-USD
    rate measured from the other three."""
    settings.ORACLE_SOURCE_URLS = {name: server.url for name in SOURCES}
    settings.ORACLE_HTTP_TIMEOUT = 0.5
    built = build_sources(
        backoff=InMemoryBackoffStore(), limiter=lambda name: TokenBucket(rate=1000, burst=1000)
    )
    assert isinstance(built["binance"].usdt_usd, MeasuredUsdtUsd)
    yield list(built.values())
    for adapter in built.values():
        adapter.close()


def publish(sources):
    collected = fetch_quotes(sources=sources, base="BTC", quote="USD")
    return aggregate(
        pair="BTC-USD",
        quotes=collected.quotes,
        failures=collected.failures,
        now=datetime.now(UTC),
    )


def within(price: Decimal | None, pct: str) -> bool:
    return price is not None and abs(price - TRUTH) / TRUTH * 100 <= Decimal(pct)


def test_published_price_with_every_source_up_uses_all_four(sources):
    # given: every source honest
    # when
    result = publish(sources)
    # then
    assert result.status == Status.OK
    assert [s.source for s in result.sources] == ["binance", "coinbase", "coingecko", "kraken"]
    assert within(result.price, "0.05")


@pytest.mark.parametrize("down", SOURCES)
@pytest.mark.parametrize("how", ["http_503", "hanging"])
def test_published_price_with_one_source_down_stays_within_half_a_percent(
    server, sources, down, how
):
    # given
    if how == "http_503":
        server.fail(down, 503, times=None)
    else:
        server.hang(down, 5, times=None)
    # when
    result = publish(sources)
    # then
    assert result.status == Status.OK
    assert within(result.price, "0.5")
    assert [(e.source, e.reason) for e in result.excluded] == [(down, "error")]


@pytest.mark.parametrize("liar", SOURCES)
@pytest.mark.parametrize("factor", ["1.10", "0.90"])
def test_published_price_with_one_source_lying_by_ten_percent_stays_within_half_a_percent(
    server, sources, liar, factor
):
    # given
    pair, honest = HONEST_BTC[liar]
    server.set_price(liar, pair, str(Decimal(honest) * Decimal(factor)))
    # when
    result = publish(sources)
    # then
    assert result.status == Status.OK
    assert within(result.price, "0.5")
    assert [(e.source, e.reason) for e in result.excluded] == [(liar, "deviation")]
