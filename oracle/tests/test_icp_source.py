"""The ICP XRC source over the IC HTTP interface, against ``testing.icp_server``.

The test server speaks the replica's wire format (CBOR envelopes, candid, request
status certificates) and hosts an XRC that answers whatever a test programs.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings

from chains.anvil import free_port
from chains.icp import RATE_ERROR_KINDS
from oracle.sources import (
    InMemoryBackoffStore,
    SourceBackoff,
    SourceBadResponse,
    SourceUnavailable,
    TokenBucket,
    UnsupportedPair,
)
from oracle.sources.icp_xrc import IcpXrcSource
from testing.icp_server import IcpTestServer

XRC_CANISTER_ID = settings.ORACLE_ICP_XRC_CANISTER_ID
NOW = 1_800_000_000  # the source's pinned clock (epoch seconds)
MINUTE = NOW - NOW % 60 - 60  # the XRC stamps rates with the start of a minute


@pytest.fixture
def server(settings):
    with IcpTestServer() as srv:
        # The client verifies every certificate: against this server's test root key here.
        settings.ICP_ROOT_KEY = srv.root_key.hex()
        yield srv


def make_source(host, **overrides):
    overrides.setdefault("limiter", TokenBucket(rate=1000, burst=1000))
    overrides.setdefault("backoff", InMemoryBackoffStore())
    overrides.setdefault("clock", lambda: float(NOW))
    overrides.setdefault("timeout", 2.0)
    overrides.setdefault("call_timeout", 2.0)
    overrides.setdefault("poll_interval", 0.01)
    return IcpXrcSource(host=host, **overrides)


@pytest.fixture
def source(server):
    src = make_source(server.url)
    yield src
    src.close()


def fetch_icp_usd(source):
    return source.fetch(base="ICP", quote="USD")


def test_icp_xrc_fetch_returns_exact_price_and_rate_time(server, source):
    # given: 1 ICP = 12.345678901 USD (9 decimals) for the previous minute
    server.set_exchange_rate(
        base="ICP", quote="USD", rate=12_345_678_901, decimals=9, timestamp=MINUTE
    )
    # when
    quote = fetch_icp_usd(source)
    # then
    assert quote.source == "icp_xrc"
    assert quote.pair == "ICP-USD"
    assert quote.price == Decimal("12.345678901")
    assert quote.price.as_tuple().exponent == -9
    assert quote.observed_at == datetime.fromtimestamp(MINUTE, tz=UTC)
    assert quote.fetched_at == datetime.fromtimestamp(NOW, tz=UTC)
    (call,) = server.requests_to("call")
    assert call.canister_id == XRC_CANISTER_ID
    assert call.args["base_asset"] == {"symbol": "ICP", "class": "Cryptocurrency"}
    assert call.args["quote_asset"] == {"symbol": "USD", "class": "FiatCurrency"}
    assert call.args["timestamp"] is None


def test_icp_xrc_crypto_quote_asset_is_asked_as_a_cryptocurrency(server, source):
    # given
    server.set_exchange_rate(
        base="ICP",
        quote="BTC",
        rate=12_500,
        decimals=8,
        quote_class="Cryptocurrency",
        timestamp=MINUTE,
    )
    # when
    quote = source.fetch(base="ICP", quote="BTC")
    # then
    assert quote.price == Decimal("0.00012500")
    (call,) = server.requests_to("call")
    assert call.args["quote_asset"] == {"symbol": "BTC", "class": "Cryptocurrency"}


def test_icp_xrc_host_is_read_from_the_settings(server):
    # given
    server.set_exchange_rate(base="ICP", quote="USD", rate=7, decimals=0, timestamp=MINUTE)
    with override_settings(ORACLE_ICP_HOST=server.url, ORACLE_ICP_CALL_TIMEOUT=2.0):
        src = IcpXrcSource(poll_interval=0.01, limiter=TokenBucket(rate=1000, burst=1000))
    # when
    with src:
        quote = fetch_icp_usd(src)
    # then
    assert quote.price == Decimal(7)
    assert len(server.requests_to("call")) == 1


# Expected reporting of every ExchangeRateError case, written out independently of
# the adapter's own table.
EXPECTED_RATE_ERRORS = {
    "AnonymousPrincipalNotAllowed": SourceBadResponse,
    "Pending": SourceUnavailable,
    "CryptoBaseAssetNotFound": UnsupportedPair,
    "CryptoQuoteAssetNotFound": UnsupportedPair,
    "StablecoinRateNotFound": SourceUnavailable,
    "StablecoinRateTooFewRates": SourceUnavailable,
    "StablecoinRateZeroRate": SourceUnavailable,
    "ForexInvalidTimestamp": SourceUnavailable,
    "ForexBaseAssetNotFound": UnsupportedPair,
    "ForexQuoteAssetNotFound": UnsupportedPair,
    "ForexAssetsNotFound": UnsupportedPair,
    "RateLimited": SourceUnavailable,
    "NotEnoughCycles": SourceBadResponse,
    "FailedToAcceptCycles": SourceBadResponse,
    "InconsistentRatesReceived": SourceUnavailable,
    "Other": SourceBadResponse,
}


def test_icp_xrc_error_table_covers_every_xrc_error_kind():
    # given / when / then
    assert set(EXPECTED_RATE_ERRORS) == set(RATE_ERROR_KINDS)


@pytest.mark.parametrize("kind", RATE_ERROR_KINDS)
def test_icp_xrc_error_kind_is_mapped_to_its_source_error(server, source, kind):
    # given
    server.set_exchange_rate_error(kind, code=42, description="something broke")
    # when
    with pytest.raises(EXPECTED_RATE_ERRORS[kind]) as caught:
        fetch_icp_usd(source)
    # then
    assert type(caught.value) is EXPECTED_RATE_ERRORS[kind]
    assert kind in str(caught.value)
    assert caught.value.source == "icp_xrc"
    assert caught.value.pair == "ICP-USD"


@pytest.mark.parametrize("kind", ["AnonymousPrincipalNotAllowed", "NotEnoughCycles"])
def test_icp_xrc_caller_error_says_a_paying_canister_is_needed(server, source, kind):
    # given
    server.set_exchange_rate_error(kind)
    # when / then
    with pytest.raises(SourceBadResponse, match=r"canister paying cycles.*docs/icp\.md"):
        fetch_icp_usd(source)


def test_icp_xrc_other_error_keeps_its_code_and_description(server, source):
    # given
    server.set_exchange_rate_error("Other", code=7, description="exchange outage")
    # when / then
    with pytest.raises(SourceBadResponse, match="exchange outage"):
        fetch_icp_usd(source)


def test_icp_xrc_refused_ingress_is_a_bad_response_naming_the_cause(server, source):
    # given: the XRC refuses ingress calls, as on mainnet
    server.set_exchange_rate(base="ICP", quote="USD", rate=1, decimals=0)
    server.reject_ingress(XRC_CANISTER_ID)
    # when / then
    with pytest.raises(SourceBadResponse, match=r"rejected \(code 4\).*docs/icp\.md"):
        fetch_icp_usd(source)
    assert server.requests_to("read_state") == []


def test_icp_xrc_transient_rejection_is_unavailable(server, source):
    # given: the call is rejected with SYS_TRANSIENT
    server.reject_method("get_exchange_rate", reject_code=2, message="subnet overloaded")
    # when / then
    with pytest.raises(SourceUnavailable, match="subnet overloaded"):
        fetch_icp_usd(source)


def test_icp_xrc_canister_error_rejection_is_a_bad_response(server, source):
    # given: the XRC traps
    server.reject_method("get_exchange_rate", reject_code=5, message="XRC trapped")
    # when / then
    with pytest.raises(SourceBadResponse, match="XRC trapped"):
        fetch_icp_usd(source)


def test_icp_xrc_rate_for_another_pair_is_a_bad_response(server, source):
    # given: the answer to ICP/USD names ICP/EUR
    server.set_exchange_rate(
        base="ICP", quote="EUR", rate=11, decimals=0, timestamp=MINUTE, for_request=("ICP", "USD")
    )
    # when / then
    with pytest.raises(SourceBadResponse, match="unusable XRC answer"):
        fetch_icp_usd(source)


def test_icp_xrc_zero_rate_is_a_bad_response(server, source):
    # given
    server.set_exchange_rate(base="ICP", quote="USD", rate=0, decimals=9, timestamp=MINUTE)
    # when / then
    with pytest.raises(SourceBadResponse, match="zero rate"):
        fetch_icp_usd(source)


def test_icp_xrc_server_down_is_unavailable(server):
    # given: the IC host was configured, then went away
    # (stopped before the first request: IcpTestServer.stop() leaves the handler
    # threads of open keep-alive connections serving)
    source = make_source(server.url)
    server.stop()
    # when / then
    with source, pytest.raises(SourceUnavailable, match="IC unavailable"):
        fetch_icp_usd(source)


def test_icp_xrc_hanging_host_is_unavailable_within_the_timeout(server):
    # given: /call does not answer for 30 s
    server.set_exchange_rate(base="ICP", quote="USD", rate=5, decimals=0, timestamp=MINUTE)
    server.hang(30, endpoint="call")
    started = time.monotonic()
    # when
    with make_source(server.url, timeout=0.3) as source:
        with pytest.raises(SourceUnavailable, match="timed out"):
            fetch_icp_usd(source)
    # then
    assert time.monotonic() - started < 0.3 + 1.0


def test_icp_xrc_closed_port_is_unavailable():
    # given
    with make_source(f"http://127.0.0.1:{free_port()}") as source:
        # when / then
        with pytest.raises(SourceUnavailable, match="IC unavailable"):
            fetch_icp_usd(source)


def test_icp_xrc_server_error_is_unavailable(server, source):
    # given
    server.set_exchange_rate(base="ICP", quote="USD", rate=5, decimals=0, timestamp=MINUTE)
    server.fail_next(503, endpoint="call")
    # when / then
    with pytest.raises(SourceUnavailable, match="503"):
        fetch_icp_usd(source)


def test_icp_xrc_outcome_not_known_in_time_is_unavailable(server):
    # given: the call stays "processing" longer than the call timeout
    server.set_exchange_rate(base="ICP", quote="USD", rate=5, decimals=0, timestamp=MINUTE)
    server.set_processing_polls(10_000)
    # when / then
    with make_source(server.url, call_timeout=0.3) as source:
        with pytest.raises(SourceUnavailable, match="no outcome"):
            fetch_icp_usd(source)


def test_icp_xrc_http_429_backs_off_without_calling_again(server, source):
    # given
    server.set_exchange_rate(base="ICP", quote="USD", rate=5, decimals=0, timestamp=MINUTE)
    server.fail_next(429, endpoint="call")
    with pytest.raises(SourceBackoff):
        fetch_icp_usd(source)
    calls = len(server.requests_to("call"))
    # when
    with pytest.raises(SourceBackoff, match="backing off"):
        fetch_icp_usd(source)
    # then
    assert len(server.requests_to("call")) == calls


def test_icp_xrc_invalid_canister_id_is_refused_at_construction(server):
    # given / when / then
    with pytest.raises(ValueError, match="not a canister id"):
        make_source(server.url, canister_id="not-a-principal")


def test_icp_xrc_plain_http_to_a_remote_host_is_refused_at_construction():
    # given / when / then
    with pytest.raises(ValueError, match="plain http"):
        make_source("http://ic.example.com")
