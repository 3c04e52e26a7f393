"""The Chainlink source against a real EVM: a ``test/PriceFeed`` contract on anvil.

The feed is deployed on a fresh anvil and found through ``CHAIN_NETWORKS`` and
``ORACLE_CHAINLINK_FEEDS``, as in production. The source's clock is pinned, so
ages and heartbeat bounds are exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from chains.anvil import free_port
from chains.compiler import compile_contract
from chains.tests.support import network_config, start_chain, user
from oracle.sources import (
    InMemoryBackoffStore,
    SourceBadResponse,
    SourceUnavailable,
    TokenBucket,
    UnsupportedPair,
)
from oracle.sources.chainlink import ChainlinkSource

CHAIN_ID = 31337
NETWORK = "local-feed"
HEARTBEAT = 3600
SKEW = 5
NOW = 1_800_000_000  # the source's pinned clock (epoch seconds)


@pytest.fixture(scope="module")
def chain():
    chain = start_chain(CHAIN_ID)
    yield chain
    chain.node.stop()


def deploy_feed(chain, *, decimals=8, description="ETH / USD"):
    """A fresh PriceFeed owned by dev account 0."""
    compiled = compile_contract("test/PriceFeed")
    owner = user(0)
    factory = chain.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    tx = factory.constructor(decimals, description).build_transaction(
        {
            "from": owner.address,
            "nonce": chain.w3.eth.get_transaction_count(owner.address, "pending"),
        }
    )
    signed = owner.sign_transaction(tx)
    tx_hash = chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    return chain.w3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)


def set_round(chain, feed, *, round_id=7, answer=312_345_678_901, started_at=None, updated_at):
    data = feed.encode_abi(
        "setRoundData", args=[round_id, answer, started_at or updated_at, updated_at]
    )
    chain.send(user(0), feed.address, data)


def feed_settings(rpc_url, address, *, chain_id=CHAIN_ID, heartbeat=HEARTBEAT):
    return override_settings(
        CHAIN_NETWORKS=[network_config(NETWORK, chain_id, rpc_url)],
        ORACLE_CHAINLINK_FEEDS={
            "ETH-USD": {"network": NETWORK, "address": address, "heartbeat": heartbeat}
        },
        ORACLE_MAX_CLOCK_SKEW_SECONDS=SKEW,
    )


def make_source():
    return ChainlinkSource(
        limiter=TokenBucket(rate=1000, burst=1000),
        backoff=InMemoryBackoffStore(),
        clock=lambda: float(NOW),
    )


@pytest.fixture
def feed(chain):
    feed = deploy_feed(chain)
    with feed_settings(chain.node.rpc_url, feed.address):
        yield feed


def test_chainlink_fetch_returns_exact_price_and_feed_time(chain, feed):
    # given: a round answered 3123.45678901 (8 decimals) a minute ago
    set_round(chain, feed, answer=312_345_678_901, updated_at=NOW - 60)
    # when
    quote = make_source().fetch(base="eth", quote="usd")
    # then
    assert quote.source == "chainlink"
    assert quote.pair == "ETH-USD"
    assert quote.price == Decimal("3123.45678901")
    assert quote.price.as_tuple().exponent == -8
    assert quote.observed_at == datetime.fromtimestamp(NOW - 60, tz=UTC)
    assert quote.fetched_at == datetime.fromtimestamp(NOW, tz=UTC)


def test_chainlink_fetch_scales_18_decimals_without_rounding(chain):
    # given: an 18-decimal feed whose answer needs all 19 digits
    feed = deploy_feed(chain, decimals=18, description="STETH / ETH")
    set_round(chain, feed, answer=10**18 + 1, updated_at=NOW - 60)
    # when
    with feed_settings(chain.node.rpc_url, feed.address):
        quote = make_source().fetch(base="ETH", quote="USD")
    # then
    assert quote.price == Decimal("1.000000000000000001")


@pytest.mark.parametrize("answer", [0, -1, -312_345_678_901], ids=["zero", "minus-one", "negative"])
def test_chainlink_non_positive_answer_is_refused(chain, feed, answer):
    # given
    set_round(chain, feed, answer=answer, updated_at=NOW - 60)
    # when / then
    with pytest.raises(SourceBadResponse, match=f"answer {answer} is not positive") as caught:
        make_source().fetch(base="ETH", quote="USD")
    assert caught.value.source == "chainlink"
    assert caught.value.pair == "ETH-USD"


def test_chainlink_round_id_zero_is_refused(chain, feed):
    # given: a positive, fresh answer in round 0
    set_round(chain, feed, round_id=0, updated_at=NOW - 60)
    # when / then
    with pytest.raises(SourceBadResponse, match="round id is zero"):
        make_source().fetch(base="ETH", quote="USD")


def test_chainlink_answer_carried_over_from_an_older_round_is_refused(chain, feed):
    # given: round 7 reports the answer of round 6
    set_round(chain, feed, round_id=7, updated_at=NOW - 60)
    chain.send(user(0), feed.address, feed.encode_abi("setAnsweredInRound", args=[6]))
    # when / then
    with pytest.raises(SourceBadResponse, match=r"answeredInRound < roundId"):
        make_source().fetch(base="ETH", quote="USD")


def test_chainlink_answered_in_a_later_round_is_accepted(chain, feed):
    # given: answeredInRound > roundId is not a carried-over answer
    set_round(chain, feed, round_id=7, updated_at=NOW - 60)
    chain.send(user(0), feed.address, feed.encode_abi("setAnsweredInRound", args=[8]))
    # when
    quote = make_source().fetch(base="ETH", quote="USD")
    # then
    assert quote.price == Decimal("3123.45678901")


def test_chainlink_update_beyond_the_clock_skew_in_the_future_is_refused(chain, feed):
    # given
    set_round(chain, feed, updated_at=NOW + SKEW + 1)
    # when / then
    with pytest.raises(SourceBadResponse, match="in the future"):
        make_source().fetch(base="ETH", quote="USD")


def test_chainlink_update_within_the_clock_skew_is_accepted(chain, feed):
    # given
    set_round(chain, feed, updated_at=NOW + SKEW)
    # when
    quote = make_source().fetch(base="ETH", quote="USD")
    # then
    assert quote.observed_at == datetime.fromtimestamp(NOW + SKEW, tz=UTC)


def test_chainlink_update_older_than_the_heartbeat_is_refused(chain, feed):
    # given
    set_round(chain, feed, updated_at=NOW - HEARTBEAT - 1)
    # when / then
    with pytest.raises(SourceBadResponse, match=f"beyond the {HEARTBEAT}s heartbeat"):
        make_source().fetch(base="ETH", quote="USD")


def test_chainlink_update_exactly_one_heartbeat_old_is_accepted(chain, feed):
    # given
    set_round(chain, feed, updated_at=NOW - HEARTBEAT)
    # when
    quote = make_source().fetch(base="ETH", quote="USD")
    # then
    assert quote.observed_at == datetime.fromtimestamp(NOW - HEARTBEAT, tz=UTC)


def test_chainlink_heartbeat_is_read_per_feed_from_the_settings(chain):
    # given: the same 2-hour-old round, under a 1-hour and a 3-hour heartbeat
    feed = deploy_feed(chain)
    set_round(chain, feed, updated_at=NOW - 7200)
    source = make_source()
    # when / then
    with feed_settings(chain.node.rpc_url, feed.address, heartbeat=3600):
        with pytest.raises(SourceBadResponse):
            source.fetch(base="ETH", quote="USD")
    with feed_settings(chain.node.rpc_url, feed.address, heartbeat=3 * 3600):
        assert source.fetch(base="ETH", quote="USD").price == Decimal("3123.45678901")


def test_chainlink_stopped_rpc_raises_unavailable():
    # given: a feed that answered, then its chain's RPC went away
    own = start_chain(CHAIN_ID)
    try:
        feed = deploy_feed(own)
        set_round(own, feed, updated_at=NOW - 60)
        with feed_settings(own.node.rpc_url, feed.address):
            source = make_source()
            assert source.fetch(base="ETH", quote="USD").price == Decimal("3123.45678901")
            own.node.stop()
            # when / then
            with pytest.raises(SourceUnavailable, match="RPC failed"):
                source.fetch(base="ETH", quote="USD")
    finally:
        own.node.stop()


def test_chainlink_closed_rpc_port_raises_unavailable():
    # given: nothing listens on the network's RPC port
    with feed_settings(f"http://127.0.0.1:{free_port()}", "0x" + "11" * 20):
        # when / then
        with pytest.raises(SourceUnavailable, match="RPC failed"):
            make_source().fetch(base="ETH", quote="USD")


def test_chainlink_rpc_of_another_chain_raises_unavailable(chain, feed):
    # given: the network is configured as chain 1 but its RPC is the anvil (31337)
    set_round(chain, feed, updated_at=NOW - 60)
    with feed_settings(chain.node.rpc_url, feed.address, chain_id=1):
        # when / then
        with pytest.raises(SourceUnavailable, match="chain id 31337, expected 1"):
            make_source().fetch(base="ETH", quote="USD")


def test_chainlink_address_without_a_feed_is_a_bad_response(chain):
    # given: an address with no contract
    with feed_settings(chain.node.rpc_url, "0x" + "22" * 20):
        # when / then
        with pytest.raises(SourceBadResponse, match="does not answer like a price feed"):
            make_source().fetch(base="ETH", quote="USD")


def test_chainlink_feed_on_a_disabled_network_is_unavailable(chain, feed):
    # given: the feed's network exists but is disabled
    config = {**network_config(NETWORK, CHAIN_ID, chain.node.rpc_url), "enabled": False}
    with override_settings(CHAIN_NETWORKS=[config]):
        # when / then
        with pytest.raises(SourceUnavailable, match="not configured or not enabled"):
            make_source().fetch(base="ETH", quote="USD")


def test_chainlink_unconfigured_pair_is_unsupported_without_an_rpc_request():
    # given: ETH-USD has a feed behind a dead RPC; BTC-USD has none
    with feed_settings(f"http://127.0.0.1:{free_port()}", "0x" + "11" * 20):
        # when / then: a request would have raised SourceUnavailable
        with pytest.raises(UnsupportedPair, match="no Chainlink feed configured for BTC-USD"):
            make_source().fetch(base="BTC", quote="USD")


def test_chainlink_without_any_feed_setting_supports_no_pair(settings):
    # given: the default, no feed
    settings.ORACLE_CHAINLINK_FEEDS = {}
    # when / then
    with pytest.raises(UnsupportedPair):
        make_source().fetch(base="ETH", quote="USD")


@pytest.mark.parametrize(
    "entry",
    [
        {"network": NETWORK, "address": "0x1234", "heartbeat": 3600},
        {"network": NETWORK, "address": "0x" + "11" * 20, "heartbeat": 0},
        {"network": NETWORK, "address": "0x" + "11" * 20, "heartbeat": "3600"},
        {"address": "0x" + "11" * 20, "heartbeat": 3600},
    ],
    ids=["short-address", "zero-heartbeat", "string-heartbeat", "no-network"],
)
def test_chainlink_malformed_feed_setting_is_improperly_configured(entry):
    # given
    with override_settings(ORACLE_CHAINLINK_FEEDS={"ETH-USD": entry}):
        # when / then
        with pytest.raises(ImproperlyConfigured, match="ORACLE_CHAINLINK_FEEDS"):
            make_source().fetch(base="ETH", quote="USD")


def test_price_feed_refuses_round_data_from_anyone_but_its_owner(chain):
    # given
    feed = deploy_feed(chain)
    data = feed.encode_abi("setRoundData", args=[1, 1, NOW, NOW])
    # when / then
    with pytest.raises(Exception, match="not owner"):
        chain.w3.eth.call({"from": user(1).address, "to": feed.address, "data": data})
