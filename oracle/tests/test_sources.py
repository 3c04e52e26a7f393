"""The source adapters over real HTTP against ``testing.exchange_server``.

Exchange APIs are not reachable from this machine; the test server answers at
the real paths in each exchange's wire format, and the adapters find it through
the URL settings (``ORACLE_SOURCE_URLS``), as in production.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest

from oracle.sources import (
    CacheBackoffStore,
    ConversionRate,
    InMemoryBackoffStore,
    MeasuredUsdtUsd,
    Quote,
    SourceBackoff,
    SourceBadResponse,
    SourceUnavailable,
    TokenBucket,
    UnsupportedPair,
    build_source,
    fetch_quotes,
)
from oracle.sources.base import parse_retry_after
from testing.exchange_server import SOURCES, ExchangeTestServer, fixture

T0 = datetime(2024, 6, 4, 13, 21, 47, 473381, tzinfo=UTC)
TIMEOUT = 0.3  # per request, in the timeout tests
SLACK = 1.0  # scheduling slack on top of a timeout bound
# A pair each source lists, in the form the test server is programmed with.
LISTED = {
    "coinbase": "BTC-USD",
    "kraken": "BTC-USD",
    "binance": "BTC-USDT",
    "coingecko": "BTC-USD",
}


class FakeClock:
    """Epoch seconds that move only when told to."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fast_limiter() -> TokenBucket:
    return TokenBucket(rate=1000, burst=1000)


@pytest.fixture
def server():
    with ExchangeTestServer() as srv:
        yield srv


@pytest.fixture
def make(server, settings):
    """Build adapters from the settings, pointed at the test server, each with a
    fresh backoff store and an unlimited limiter unless the test says otherwise."""
    settings.ORACLE_SOURCE_URLS = {name: server.url for name in SOURCES}
    settings.ORACLE_HTTP_TIMEOUT = 2.0
    built = []

    def _make(name: str, **overrides):
        overrides.setdefault("backoff", InMemoryBackoffStore())
        overrides.setdefault("limiter", fast_limiter())
        if name == "coingecko":
            overrides.setdefault("cache_seconds", 0)
        adapter = build_source(name, **overrides)
        built.append(adapter)
        return adapter

    yield _make
    for adapter in built:
        adapter.close()


def fixed_rate(price: str, observed_at: datetime | None = None):
    rate = ConversionRate(
        pair="USDT-USD", price=Decimal(price), observed_at=observed_at or datetime.now(UTC)
    )
    return lambda: rate


def fetch_listed(adapter, name: str) -> Quote:
    base, quote = LISTED[name].split("-")
    return adapter.fetch(base=base, quote=quote)


# --------------------------------------------------------------------------- settings


def test_build_source_uses_url_and_timeout_from_settings(make, server, settings):
    # given
    settings.ORACLE_HTTP_TIMEOUT = 1.5
    # when
    adapter = make("kraken")
    # then
    assert adapter.base_url == server.url
    assert adapter.timeout == 1.5


def test_source_refuses_plain_http_to_a_remote_host(settings):
    # given / when / then
    with pytest.raises(ValueError, match="plain http"):
        build_source("coinbase", base_url="http://api.exchange.coinbase.com")


# --------------------------------------------------------------------------- Coinbase


def test_coinbase_fetch_returns_exact_price_and_provider_time(make, server):
    # given
    server.set_price("coinbase", "BTC-USD", "67010.01000000", updated_at=T0)
    adapter = make("coinbase")
    # when
    quote = adapter.fetch(base="btc", quote="usd")
    # then
    assert quote.price == Decimal("67010.01000000")
    assert str(quote.price) == "67010.01000000"
    assert (quote.source, quote.pair, quote.observed_at) == ("coinbase", "BTC-USD", T0)
    (request,) = server.requests_to("coinbase")
    assert request.path == "/products/BTC-USD/ticker"
    assert request.headers["user-agent"].startswith("p2p-swap-market-oracle/")


def test_coinbase_fetch_parses_the_captured_answer(make, server):
    # given
    server.respond_raw("coinbase", fixture("coinbase_ticker_btc_usd.json"))
    # when
    quote = make("coinbase").fetch(base="BTC", quote="USD")
    # then
    assert quote.price == Decimal("67010.01")
    assert quote.observed_at == T0


def test_coinbase_unknown_product_raises_unsupported_pair(make, server):
    # given: nothing listed, so the server answers 404 {"message": "NotFound"}
    adapter = make("coinbase")
    # when / then
    with pytest.raises(UnsupportedPair):
        adapter.fetch(base="DOGE", quote="USD")


# --------------------------------------------------------------------------- Kraken


def test_kraken_fetch_asks_for_xbt_and_reads_the_legacy_result_key(make, server):
    # given
    server.set_price("kraken", "BTC-USD", "67049.90000")
    clock = FakeClock()
    adapter = make("kraken", clock=clock)
    # when
    quote = adapter.fetch(base="BTC", quote="USD")
    # then
    assert quote.price == Decimal("67049.90000")
    assert server.requests_to("kraken")[0].query["pair"] == "XBTUSD"
    # no provider timestamp: observed at receipt
    assert quote.observed_at == quote.fetched_at == datetime.fromtimestamp(clock.now, tz=UTC)


def test_kraken_fetch_reads_a_new_style_result_key(make, server):
    # given: ICP-USD is keyed "ICPUSD", not "XICPZUSD"
    server.set_price("kraken", "ICP-USD", "12.087")
    # when
    quote = make("kraken").fetch(base="ICP", quote="USD")
    # then
    assert quote.price == Decimal("12.087")


@pytest.mark.parametrize(
    ("name", "base", "price"),
    [
        ("kraken_ticker_xbtusd.json", "BTC", "67049.90000"),
        ("kraken_ticker_icpusd.json", "ICP", "12.087"),
        ("kraken_ticker_usdtusd.json", "USDT", "0.99990"),
    ],
)
def test_kraken_fetch_parses_the_captured_answers(make, server, name, base, price):
    # given
    server.respond_raw("kraken", fixture(name))
    # when
    quote = make("kraken").fetch(base=base, quote="USD")
    # then
    assert quote.price == Decimal(price)


def test_kraken_answer_for_another_pair_is_a_bad_response(make, server):
    # given: asked for BTC, answered with ETH's key
    server.respond_raw(
        "kraken", fixture("kraken_ticker_xbtusd.json").replace(b"XXBTZUSD", b"XETHZUSD")
    )
    # when / then
    with pytest.raises(SourceBadResponse, match="XETHZUSD"):
        make("kraken").fetch(base="BTC", quote="USD")


def test_kraken_unknown_pair_error_raises_unsupported_pair(make, server):
    # given
    server.kraken_error("EQuery:Unknown asset pair")
    # when / then
    with pytest.raises(UnsupportedPair, match="Unknown asset pair"):
        make("kraken").fetch(base="BTC", quote="USD")


def test_kraken_service_error_raises_unavailable(make, server):
    # given
    server.respond_raw("kraken", fixture("kraken_error_unavailable.json"))
    # when / then
    with pytest.raises(SourceUnavailable, match="EService:Unavailable"):
        make("kraken").fetch(base="BTC", quote="USD")


def test_kraken_rate_limit_error_puts_the_source_in_backoff(make, server):
    # given
    server.set_price("kraken", "BTC-USD", "67049.9")
    server.respond_raw("kraken", fixture("kraken_error_rate_limited.json"))
    clock = FakeClock()
    adapter = make("kraken", clock=clock)
    # when
    with pytest.raises(SourceBackoff) as first:
        adapter.fetch(base="BTC", quote="USD")
    with pytest.raises(SourceBackoff):
        adapter.fetch(base="BTC", quote="USD")
    # then
    assert first.value.until == pytest.approx(clock.now + 60)
    assert len(server.requests_to("kraken")) == 1


# --------------------------------------------------------------------------- Binance


def test_binance_usdt_pair_returns_exact_price(make, server):
    # given
    server.set_price("binance", "BTC-USDT", "67012.34000000")
    # when
    quote = make("binance").fetch(base="BTC", quote="USDT")
    # then
    assert quote.price == Decimal("67012.34000000")
    assert quote.pair == "BTC-USDT"
    assert server.requests_to("binance")[0].query == {"symbol": "BTCUSDT"}


def test_binance_usd_price_is_converted_through_the_measured_rate(make, server):
    # given
    server.set_price("binance", "BTC-USDT", "67012.34000000")
    adapter = make("binance", usdt_usd=fixed_rate("0.99981"))
    # when
    quote = adapter.fetch(base="BTC", quote="USD")
    # then: exact Decimal product, no rounding
    assert quote.price == Decimal("67012.34") * Decimal("0.99981")
    assert quote.price == Decimal("66999.6076554")
    assert quote.pair == "BTC-USD"


def test_binance_usdt_depeg_changes_the_converted_price(make, server):
    # given
    server.set_price("binance", "BTC-USDT", "69072.16")
    pegged = make("binance", usdt_usd=fixed_rate("1.00"))
    depegged = make("binance", usdt_usd=fixed_rate("0.97"))
    # when
    at_peg = pegged.fetch(base="BTC", quote="USD")
    off_peg = depegged.fetch(base="BTC", quote="USD")
    # then
    assert at_peg.price == Decimal("69072.16")
    assert off_peg.price == Decimal("66999.9952")


def test_binance_converted_quote_is_as_old_as_its_rate(make, server):
    # given
    server.set_price("binance", "BTC-USDT", "67000")
    rate_time = datetime.now(UTC) - timedelta(seconds=20)
    adapter = make("binance", usdt_usd=fixed_rate("1.0001", rate_time))
    # when
    quote = adapter.fetch(base="BTC", quote="USD")
    # then
    assert quote.observed_at == rate_time
    assert quote.fetched_at > rate_time


def test_binance_usd_without_a_rate_provider_is_unsupported_and_not_requested(make, server):
    # given
    server.set_price("binance", "BTC-USDT", "67000")
    adapter = make("binance")
    # when / then
    with pytest.raises(UnsupportedPair, match="USDT"):
        adapter.fetch(base="BTC", quote="USD")
    assert server.requests_to("binance") == []


def test_binance_without_a_usable_rate_is_unavailable_and_not_requested(make, server):
    # given
    server.set_price("binance", "BTC-USDT", "67000")

    def broken_rate():
        raise SourceUnavailable("USDT-USD is halted", source="measure")

    adapter = make("binance", usdt_usd=broken_rate)
    # when / then
    with pytest.raises(SourceUnavailable, match="no USDT-USD rate"):
        adapter.fetch(base="BTC", quote="USD")
    assert server.requests_to("binance") == []


def test_binance_refuses_to_quote_usdt_usd_itself(make):
    # given
    adapter = make("binance", usdt_usd=fixed_rate("1.0"))
    # when / then
    with pytest.raises(UnsupportedPair):
        adapter.fetch(base="USDT", quote="USD")


def test_binance_invalid_symbol_raises_unsupported_pair(make, server):
    # given: nothing listed, so the server answers 400 {"code": -1121}
    adapter = make("binance")
    # when / then
    with pytest.raises(UnsupportedPair, match="Invalid symbol"):
        adapter.fetch(base="NOPE", quote="USDT")


def test_binance_rate_measured_from_the_other_sources_follows_a_depeg(make, server):
    # given: USDT trades at 0.97 USD everywhere that quotes it
    server.set_price("binance", "BTC-USDT", "69072.16")
    for source, price in (("coinbase", "0.97"), ("kraken", "0.97010"), ("coingecko", "0.9699")):
        server.set_price(source, "USDT-USD", price)
    measuring = [make("coinbase"), make("kraken"), make("coingecko")]
    adapter = make("binance", usdt_usd=MeasuredUsdtUsd(sources=measuring))
    # when
    quote = adapter.fetch(base="BTC", quote="USD")
    # then: converted at the median 0.97, not at 1
    assert quote.price == Decimal("69072.16") * Decimal("0.97")
    assert [r.query["pair"] for r in server.requests_to("kraken")] == ["USDTUSD"]


def test_binance_usd_is_unavailable_while_usdt_usd_is_not_tradeable(make, server):
    # given: the USDT-USD sources disagree (1.00 vs 0.90), so USDT-USD halts
    server.set_price("binance", "BTC-USDT", "67000")
    server.set_price("coinbase", "USDT-USD", "1.00")
    server.set_price("kraken", "USDT-USD", "0.90")
    measuring = [make("coinbase"), make("kraken")]
    adapter = make("binance", usdt_usd=MeasuredUsdtUsd(sources=measuring))
    # when / then
    with pytest.raises(SourceUnavailable, match="USDT-USD is halted"):
        adapter.fetch(base="BTC", quote="USD")
    assert server.requests_to("binance") == []


# --------------------------------------------------------------------------- CoinGecko


def test_coingecko_number_is_parsed_as_an_exact_decimal(make, server):
    # given: more digits than a float holds
    server.set_price("coingecko", "BTC-USD", "67187.335792649571234567", updated_at=T0)
    # when
    quote = make("coingecko").fetch(base="BTC", quote="USD")
    # then
    assert quote.price == Decimal("67187.335792649571234567")
    assert quote.observed_at == T0.replace(microsecond=0)
    (request,) = server.requests_to("coingecko")
    assert "bitcoin" in request.query["ids"].split(",")
    assert request.query["vs_currencies"] == "usd"
    assert request.query["include_last_updated_at"] == "true"
    assert request.query["precision"] == "full"


def test_coingecko_fetch_parses_the_captured_answer(make, server):
    # given
    server.respond_raw("coingecko", fixture("coingecko_simple_price.json"))
    # when
    quote = make("coingecko").fetch(base="ICP", quote="USD")
    # then
    assert quote.price == Decimal("12.082119374126327")
    assert quote.observed_at == datetime.fromtimestamp(1717507301, tz=UTC)


def test_coingecko_prices_several_coins_with_one_request(make, server):
    # given
    for pair, price in (("BTC-USD", "67187.3"), ("ETH-USD", "3787.2"), ("USDT-USD", "1.0003")):
        server.set_price("coingecko", pair, price)
    adapter = make("coingecko", cache_seconds=60)
    # when
    prices = [adapter.fetch(base=b, quote="USD").price for b in ("BTC", "ETH", "USDT")]
    # then
    assert prices == [Decimal("67187.3"), Decimal("3787.2"), Decimal("1.0003")]
    assert len(server.requests_to("coingecko")) == 1


def test_coingecko_unknown_symbol_is_unsupported_without_a_request(make, server):
    # given
    adapter = make("coingecko")
    # when / then
    with pytest.raises(UnsupportedPair):
        adapter.fetch(base="NOPE", quote="USD")
    assert server.requests_to("coingecko") == []


def test_coingecko_coin_missing_from_the_answer_is_a_bad_response(make, server):
    # given: the server has no bitcoin price, so it leaves the id out
    server.set_price("coingecko", "ETH-USD", "3787.2")
    # when / then
    with pytest.raises(SourceBadResponse, match="bitcoin"):
        make("coingecko").fetch(base="BTC", quote="USD")


# --------------------------------------------------------------------------- bad payloads

BAD_BODIES = {
    "coinbase": [
        b'{"price": "67010.01", "time": ',  # truncated JSON
        b"<html>502 Bad Gateway</html>",
        b"[]",
        b'{"price": "abc", "time": "2024-06-04T13:21:47Z"}',
        b'{"price": "-1", "time": "2024-06-04T13:21:47Z"}',
        b'{"price": 6.7e4, "time": "2024-06-04T13:21:47Z"}',
        b'{"price": "67010.01", "time": "yesterday"}',
    ],
    "kraken": [
        b'{"error": [], "result": {"XXBTZUSD": {"c": []}}}',
        b'{"error": [], "result": {}}',
        b'{"error": [], "result": {"XXBTZUSD": {"c": ["0", "1"]}}}',
        b'{"error": "EGeneral:Internal error"}',
        b"not json",
    ],
    "binance": [
        b'{"symbol": "ETHUSDT", "price": "3787.2"}',  # another symbol
        b'{"symbol": "BTCUSDT", "price": "NaN"}',
        b'{"symbol": "BTCUSDT", "price": null}',
        b'{"symbol": "BTCUSDT"',
    ],
    "coingecko": [
        b'{"bitcoin": {"usd": NaN, "last_updated_at": 1717507302}}',
        b'{"bitcoin": {"usd": "67187.3", "last_updated_at": 1717507302}}',  # not a number
        b'{"bitcoin": {"usd": 0, "last_updated_at": 1717507302}}',
        b'{"bitcoin": {"usd": 67187.3, "last_updated_at": "soon"}}',
        b'{"bitcoin": []}',
        b"",
    ],
}


@pytest.mark.parametrize(
    ("source", "body"),
    [(source, body) for source, bodies in BAD_BODIES.items() for body in bodies],
)
def test_fetch_of_a_bad_payload_raises_bad_response(make, server, source, body):
    # given
    server.set_price(source, LISTED[source], "67000")
    server.respond_raw(source, body)
    adapter = make(source)
    # when / then
    with pytest.raises(SourceBadResponse):
        fetch_listed(adapter, source)


# --------------------------------------------------------------------------- backoff


@pytest.mark.parametrize("source", SOURCES)
def test_fetch_after_429_with_retry_after_backs_off_then_resumes(make, server, source):
    # given
    server.set_price(source, LISTED[source], "67000")
    server.fail(source, 429, retry_after="30")
    clock = FakeClock()
    adapter = make(source, clock=clock)
    # when: the 429, then a call during the backoff
    with pytest.raises(SourceBackoff) as first:
        fetch_listed(adapter, source)
    clock.advance(29)
    with pytest.raises(SourceBackoff):
        fetch_listed(adapter, source)
    # then: the provider was not called during the backoff
    assert first.value.until == pytest.approx(clock.now - 29 + 30)
    assert len(server.requests_to(source)) == 1
    # and requests resume once it is over
    clock.advance(2)
    assert fetch_listed(adapter, source).price == Decimal("67000")
    assert len(server.requests_to(source)) == 2


def test_fetch_after_429_honours_an_http_date_retry_after(make, server):
    # given
    clock = FakeClock(start=1_717_507_300.0)
    when = datetime.fromtimestamp(clock.now + 45, tz=UTC)
    server.fail("coinbase", 429, retry_after=format_datetime(when, usegmt=True))
    adapter = make("coinbase", clock=clock)
    # when
    with pytest.raises(SourceBackoff) as raised:
        adapter.fetch(base="BTC", quote="USD")
    # then
    assert raised.value.until == pytest.approx(clock.now + 45)


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_wait"),
    [(418, "120", 120), (418, None, 120), (451, "600", 600), (451, None, 3600)],
)
def test_binance_ban_or_restriction_backs_off(make, server, status, retry_after, expected_wait):
    # given
    server.set_price("binance", "BTC-USDT", "67000")
    server.fail("binance", status, retry_after=retry_after)
    clock = FakeClock()
    adapter = make("binance", clock=clock)
    # when
    with pytest.raises(SourceBackoff) as raised:
        adapter.fetch(base="BTC", quote="USDT")
    clock.advance(expected_wait - 1)
    with pytest.raises(SourceBackoff):
        adapter.fetch(base="BTC", quote="USDT")
    # then
    assert raised.value.until == pytest.approx(clock.now + 1)
    assert len(server.requests_to("binance")) == 1
    clock.advance(2)
    assert adapter.fetch(base="BTC", quote="USDT").price == Decimal("67000")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_fetch_on_5xx_raises_unavailable_without_backing_off(make, server, status):
    # given
    server.set_price("coinbase", "BTC-USD", "67000")
    server.fail("coinbase", status)
    adapter = make("coinbase")
    # when
    with pytest.raises(SourceUnavailable):
        adapter.fetch(base="BTC", quote="USD")
    quote = adapter.fetch(base="BTC", quote="USD")
    # then
    assert quote.price == Decimal("67000")
    assert len(server.requests_to("coinbase")) == 2


def test_backoff_is_shared_by_adapters_sharing_a_store(make, server):
    # given: two adapters (as in two workers) and one store
    store = InMemoryBackoffStore()
    server.fail("binance", 418, retry_after="300")
    first, second = make("binance", backoff=store), make("binance", backoff=store)
    with pytest.raises(SourceBackoff):
        first.fetch(base="BTC", quote="USDT")
    # when / then
    with pytest.raises(SourceBackoff):
        second.fetch(base="BTC", quote="USDT")
    assert len(server.requests_to("binance")) == 1


def test_cache_backoff_store_is_seen_by_another_store_instance():
    # given: two stores over the same Django cache, as two processes would have
    source = f"test-{time.time_ns()}"
    writer, reader = CacheBackoffStore(), CacheBackoffStore()
    until = time.time() + 120
    # when
    writer.extend(source, until)
    writer.extend(source, until - 60)  # never shortened
    # then
    assert reader.until(source) == pytest.approx(until)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        (" 7 ", 7.0),
        ("Tue, 04 Jun 2024 13:22:30 GMT", 30.0),
        ("Tue, 04 Jun 2024 13:21:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(header, expected):
    # given
    now = datetime(2024, 6, 4, 13, 22, 0, tzinfo=UTC).timestamp()
    # when / then
    assert parse_retry_after(header, now=now) == expected


# --------------------------------------------------------------------------- timeouts


def test_fetch_from_a_hanging_source_times_out_within_its_timeout(make, server):
    # given
    server.set_price("coinbase", "BTC-USD", "67000")
    server.hang("coinbase", 10)
    adapter = make("coinbase", timeout=TIMEOUT)
    started = time.monotonic()
    # when
    with pytest.raises(SourceUnavailable, match="timed out"):
        adapter.fetch(base="BTC", quote="USD")
    # then
    assert time.monotonic() - started < TIMEOUT + SLACK


def test_fetch_of_a_dripping_answer_is_bounded_by_the_timeout(make, server):
    # given: one byte every 0.1 s; the read timeout alone would wait ~25 s
    server.set_price("coinbase", "BTC-USD", "67000")
    server.drip("coinbase", 0.1)
    adapter = make("coinbase", timeout=TIMEOUT)
    started = time.monotonic()
    # when
    with pytest.raises(SourceUnavailable, match="timed out"):
        adapter.fetch(base="BTC", quote="USD")
    # then
    assert time.monotonic() - started < 2 * TIMEOUT + SLACK


def test_fetch_from_a_closed_port_raises_unavailable(make, server):
    # given
    url = server.url
    server.stop()
    adapter = make("coinbase", base_url=url)
    # when / then
    with pytest.raises(SourceUnavailable):
        adapter.fetch(base="BTC", quote="USD")


# --------------------------------------------------------------------------- rate limiting


def test_token_bucket_waits_for_a_token_at_its_rate():
    # given
    clock = FakeClock(start=0.0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    bucket = TokenBucket(rate=2, burst=1, clock=clock, sleep=sleep)
    # when
    waits = [bucket.reserve(max_wait=5) for _ in range(3)]
    # then
    assert waits == [0.0, 0.5, 0.5]
    assert slept == [0.5, 0.5]


def test_token_bucket_refuses_a_wait_longer_than_max_wait():
    # given
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(rate=0.1, burst=1, clock=clock, sleep=lambda s: None)
    bucket.reserve(max_wait=1)
    # when
    refused = bucket.reserve(max_wait=1)
    clock.advance(10)
    granted = bucket.reserve(max_wait=1)
    # then
    assert refused is None
    assert granted == 0.0


def test_fetch_spaces_requests_by_the_source_limiter(make, server):
    # given: 20 requests per second, no burst
    server.set_price("binance", "BTC-USDT", "67000")
    adapter = make("binance", limiter=TokenBucket(rate=20, burst=1))
    # when: four fetches, timed where the limiter waits (the client), not where the requests
    # land (the server's arrival times jitter with the machine's load)
    started = time.monotonic()
    for _ in range(4):
        adapter.fetch(base="BTC", quote="USDT")
    elapsed = time.monotonic() - started
    # then: three waits of 1/20 s, and every fetch reached the server
    assert elapsed >= 0.149  # 3 × 0.05 s, less a float rounding
    assert len(server.requests_to("binance")) == 4


def test_fetch_with_an_exhausted_limiter_backs_off_without_a_request(make, server):
    # given: one request per 100 s and a 0.3 s timeout
    server.set_price("coinbase", "BTC-USD", "67000")
    adapter = make("coinbase", limiter=TokenBucket(rate=0.01, burst=1), timeout=TIMEOUT)
    adapter.fetch(base="BTC", quote="USD")
    # when / then
    with pytest.raises(SourceBackoff, match="client-side rate limit"):
        adapter.fetch(base="BTC", quote="USD")
    assert len(server.requests_to("coinbase")) == 1


# --------------------------------------------------------------------------- collecting


def test_fetch_quotes_collects_quotes_and_reports_failures(make, server):
    # given
    server.set_price("coinbase", "ETH-USD", "3787.20")
    server.set_price("kraken", "ETH-USD", "3787.50")
    server.fail("coingecko", 503, times=None)
    sources = [make("coinbase"), make("kraken"), make("coingecko")]
    # when
    collected = fetch_quotes(sources=sources, base="ETH", quote="USD")
    # then
    assert {q.source: q.price for q in collected.quotes} == {
        "coinbase": Decimal("3787.20"),
        "kraken": Decimal("3787.50"),
    }
    (failure,) = collected.failures
    assert (failure.source, failure.pair, failure.code) == ("coingecko", "ETH-USD", "unavailable")
