"""Tests of chains.icp against testing.icp_server over real HTTP on 127.0.0.1.

No IC replica exists on this machine: the test server speaks the IC HTTP interface
v2 wire format (CBOR envelopes, candid, certificates with a dummy signature).
"""

from __future__ import annotations

import dataclasses
import string
import time
from decimal import Decimal

import cbor2
import httpx
import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ic.agent import sign_request
from ic.candid import Types, encode
from ic.identity import Identity
from ic.principal import Principal
from ic.utils import to_request_id

from chains.icp import (
    DEFAULT_IC_HOST,
    ICP_LEDGER_CANISTER_ID,
    RATE_ERROR_KINDS,
    REJECT_CANISTER_REJECT,
    REJECT_DESTINATION_INVALID,
    ExchangeRate,
    IcpClient,
    IcpError,
    IcpInvalidArgument,
    IcpPollTimeout,
    IcpProtocolError,
    IcpRateError,
    IcpRejected,
    IcpUnavailable,
    principal_is_valid,
)
from testing.icp_server import (
    IcpTestServer,
    hash_of_map,
    idl_hash,
    principal_from_text,
    principal_to_text,
)

XRC_CANISTER_ID = django_settings.ORACLE_ICP_XRC_CANISTER_ID
ANONYMOUS = "2vxsx-fae"
OWNER = "rrkah-fqaaa-aaaaa-aaaaq-cai"  # the NNS governance canister: a real principal
CKBTC_LEDGER = "mxzaz-hqaaa-aaaar-qaada-cai"
TIMEOUT = 0.3  # per HTTP request in the failure tests
SLACK = 1.0  # scheduling slack allowed on top of a timeout bound


@pytest.fixture
def server():
    with IcpTestServer() as srv:
        yield srv


@pytest.fixture
def client(server):
    with IcpClient(
        host=server.url,
        root_key=server.root_key,
        timeout=2.0,
        call_timeout=3.0,
        poll_interval=0.01,
    ) as c:
        yield c


@pytest.fixture
def fast_failing_client(server):
    with IcpClient(
        host=server.url,
        root_key=server.root_key,
        timeout=TIMEOUT,
        call_timeout=0.6,
        poll_interval=0.01,
    ) as c:
        yield c


# --------------------------------------------------------------------------- principals


@pytest.mark.parametrize(
    "text",
    [
        ICP_LEDGER_CANISTER_ID,
        XRC_CANISTER_ID,
        "aaaaa-aa",  # management canister, 0 bytes
        ANONYMOUS,  # 0x04
        OWNER,
        "em77e-bvlzu-aq",  # the spec's worked example, 0xABCD01
        "tdb26-jop6k-aogll-7ltgs-eruif-6kk7m-qpktf-gdiqx-mxtrf-vb5e6-eqe",  # NNS subnet id
    ],
)
def test_principal_is_valid_real_principals_accepted(text):
    # given a real textual principal
    # when / then
    assert principal_is_valid(text)


@pytest.mark.parametrize(
    "text",
    [
        "ryjl3-tyaaa-aaaaa-aaaba-caj",  # last character changed
        "ryjl3-tyaaa-aaaaa-aaaab-cai",  # two characters swapped
        "ryjl3tyaaa-aaaaa-aaaba-cai",  # dash missing
        "ryjl3-tyaa-aaaaaa-aaaba-cai",  # dash misplaced
        "ryjl3-tyaaa-aaaaa-aaaba-cai-",  # trailing dash
        "-aaaaa-aa",  # leading dash
        "aaaaa-ab",  # corrupted management canister id
        "2vxsx-fa1",  # '1' is not in the base32 alphabet
        "2vxsx-fae ",  # whitespace
        "",
        "aa",  # too short to hold a checksum
        principal_to_text(bytes(30)),  # 30 bytes: one over the maximum
        "ryjl3-tyaaa-aaaaa-aaaba-cäi",  # non-ASCII
    ],
)
def test_principal_is_valid_corrupted_principals_rejected(text):
    # given a malformed or corrupted textual principal
    # when / then
    assert not principal_is_valid(text)


def test_principal_is_valid_non_string_rejected():
    # given values that are not strings at all
    # when / then
    assert not principal_is_valid(None)  # type: ignore[arg-type]
    assert not principal_is_valid(b"aaaaa-aa")  # type: ignore[arg-type]


def test_principal_is_valid_upper_case_accepted_as_spec_says():
    # given the canonical lower-case form upper-cased (the spec parses case-insensitively)
    text = ICP_LEDGER_CANISTER_ID.upper()
    # when / then
    assert principal_is_valid(text)


@given(st.binary(max_size=29))
def test_principal_is_valid_any_blob_up_to_29_bytes_round_trips(raw):
    # given the textual form of an arbitrary blob, as ic-py and the test server print it
    text = Principal(bytes=raw).to_str()
    # when / then
    assert text == principal_to_text(raw)
    assert principal_is_valid(text)


@given(st.binary(max_size=29), st.data())
def test_principal_is_valid_any_single_character_substitution_rejected(raw, data):
    # given a valid principal with one base32 character replaced by another
    text = principal_to_text(raw)
    positions = [i for i, ch in enumerate(text) if ch != "-"]
    pos = data.draw(st.sampled_from(positions))
    alphabet = [c for c in string.ascii_lowercase + "234567" if c != text[pos]]
    corrupted = text[:pos] + data.draw(st.sampled_from(alphabet)) + text[pos + 1 :]
    # when / then: CRC-32 or the canonical re-encoding catches it
    assert not principal_is_valid(corrupted)


# --------------------------------------------------------------------------- request ids


def test_request_id_spec_example_matches_icpy_and_server():
    # given the worked request-id example of the interface spec
    content = {
        "request_type": "call",
        "sender": b"\x04",
        "ingress_expiry": 1685570400000000000,
        "canister_id": b"\x00\x00\x00\x00\x00\x00\x04\xd2",
        "method_name": "hello",
        "arg": b"DIDL\x00\xfd*",
    }
    expected = "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"
    # when / then: ic-py (used by the client) and the server's own code agree with it
    assert to_request_id(content).hex() == expected
    assert hash_of_map(content).hex() == expected


def test_request_id_read_state_paths_match_icpy_and_server():
    # given read_state content, whose nested array hashing is easy to get wrong
    content = {
        "request_type": "read_state",
        "sender": b"\x04",
        "ingress_expiry": 1685570400000000000,
        "paths": [[b"request_status", bytes(range(32))], [b"time"]],
    }
    # when / then
    assert to_request_id(content) == hash_of_map(content)


# --------------------------------------------------------------------------- balances


def test_icrc1_balance_of_default_subaccount_returns_e8s(server, client):
    # given a balance on the ICP ledger
    server.set_balance(OWNER, 1_234_567_890_123)
    # when
    balance = client.icrc1_balance_of(owner=OWNER)
    # then
    assert balance == 1_234_567_890_123
    assert type(balance) is int


def test_icrc1_balance_of_query_sends_exact_envelope_and_candid(server, client):
    # given
    before = time.time_ns()
    # when
    client.icrc1_balance_of(ledger_canister_id=ICP_LEDGER_CANISTER_ID, owner=OWNER)
    # then: one query, shaped as the spec says, to the ledger, then one read_state of
    # /subnet for the node keys its signature is checked with
    req, keys = server.requests
    assert (keys.endpoint, keys.paths, keys.effective_canister_id) == (
        "read_state",
        ((b"subnet",),),
        ICP_LEDGER_CANISTER_ID,
    )
    assert (req.endpoint, req.http_status, req.error) == ("query", 200, None)
    assert req.effective_canister_id == ICP_LEDGER_CANISTER_ID
    assert req.request_type == "query"
    assert req.canister_id == ICP_LEDGER_CANISTER_ID
    assert req.method_name == "icrc1_balance_of"
    assert req.sender == b"\x04"
    assert req.envelope_keys == frozenset({"content"})  # no null sender_pubkey/sig
    assert req.self_describing_tag
    assert req.nonce is None
    assert before < req.ingress_expiry <= time.time_ns() + 5 * 60 * 10**9
    # and the candid argument, decoded by ic.candid and by the independent decoder
    assert req.args == {"owner": OWNER, "subaccount": None}
    assert req.arg_structure == [
        {idl_hash("owner"): principal_from_text(OWNER), idl_hash("subaccount"): []}
    ]


def test_icrc1_balance_of_subaccount_given_is_sent_and_used(server, client):
    # given balances on the default and on a named subaccount
    sub = bytes(31) + b"\x07"
    server.set_balance(OWNER, 5)
    server.set_balance(OWNER, 700_000_000, subaccount=sub)
    # when
    balance = client.icrc1_balance_of(owner=OWNER, subaccount=sub)
    # then
    assert balance == 700_000_000
    (req,) = server.requests_to("query")
    assert req.args == {"owner": OWNER, "subaccount": sub}
    assert req.arg_structure[0][idl_hash("subaccount")] == [sub]


def test_icrc1_balance_of_other_ledger_goes_to_that_canister():
    # given a server hosting the ckBTC ledger id instead of the ICP ledger
    with IcpTestServer(ledger_canister_id=CKBTC_LEDGER) as server:
        server.set_balance(OWNER, 42)
        with IcpClient(host=server.url, root_key=server.root_key, timeout=2.0) as client:
            # when
            balance = client.icrc1_balance_of(ledger_canister_id=CKBTC_LEDGER, owner=OWNER)
        # then
        assert balance == 42
        assert server.requests[0].effective_canister_id == CKBTC_LEDGER


def test_icrc1_balance_of_unknown_owner_returns_zero(server, client):
    # given no balance set
    # when / then
    assert client.icrc1_balance_of(owner=ANONYMOUS) == 0


@pytest.mark.parametrize("owner", ["not-a-principal", "ryjl3-tyaaa-aaaaa-aaaba-caj", ""])
def test_icrc1_balance_of_invalid_owner_raises_before_any_request(server, client, owner):
    # given an invalid owner
    # when / then
    with pytest.raises(IcpInvalidArgument):
        client.icrc1_balance_of(owner=owner)
    assert server.requests == []


@pytest.mark.parametrize("sub", [b"", bytes(31), bytes(33)])
def test_icrc1_balance_of_subaccount_not_32_bytes_raises(server, client, sub):
    # given a subaccount of the wrong length (ICRC-1 wants exactly 32 bytes)
    # when / then
    with pytest.raises(IcpInvalidArgument):
        client.icrc1_balance_of(owner=OWNER, subaccount=sub)
    assert server.requests == []


def test_icrc1_balance_of_canister_rejects_raises_icp_rejected(server, client):
    # given the ledger rejects the query
    server.reject_method("icrc1_balance_of", reject_code=5, message="trapped", error_code="IC0503")
    # when
    with pytest.raises(IcpRejected) as info:
        client.icrc1_balance_of(owner=OWNER)
    # then
    assert info.value.reject_code == 5
    assert info.value.message == "trapped"
    assert info.value.error_code == "IC0503"


def test_icrc1_balance_of_unknown_canister_raises_destination_invalid(server, client):
    # given a ledger id the server does not host
    # when
    with pytest.raises(IcpRejected) as info:
        client.icrc1_balance_of(ledger_canister_id=CKBTC_LEDGER, owner=OWNER)
    # then
    assert info.value.reject_code == REJECT_DESTINATION_INVALID
    assert info.value.error_code == "IC0301"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_icrc1_balance_of_http_5xx_or_429_raises_unavailable(server, client, status):
    # given the boundary node fails with an HTML error page
    server.fail_next(status, body=b"<html>bad gateway</html>", content_type="text/html")
    # when
    with pytest.raises(IcpUnavailable) as info:
        client.icrc1_balance_of(owner=OWNER)
    # then
    assert info.value.status_code == status


def test_icrc1_balance_of_http_400_raises_protocol_error(server, client):
    # given a 4xx answer (retrying will not help)
    server.fail_next(400, body=b"Invalid request expiry")
    # when
    with pytest.raises(IcpProtocolError) as info:
        client.icrc1_balance_of(owner=OWNER)
    # then
    assert info.value.status_code == 400
    assert "Invalid request expiry" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b"not cbor at all \xff\xff",
        cbor2.dumps(["a", "list"]),
        cbor2.dumps({"status": "replied", "reply": {"arg": b"not candid"}}),
        cbor2.dumps(
            {"status": "replied", "reply": {"arg": encode([{"type": Types.Text, "value": "1"}])}}
        ),
        cbor2.dumps({"status": "something else"}),
        cbor2.dumps({"status": "rejected"}),
    ],
)
def test_icrc1_balance_of_malformed_answer_raises_protocol_error(server, client, body):
    # given a 200 answer that is not a valid replica answer for a nat
    server.fail_next(200, body=body, content_type="application/cbor")
    # when / then
    with pytest.raises(IcpProtocolError):
        client.icrc1_balance_of(owner=OWNER)


def test_icrc1_balance_of_server_hangs_raises_unavailable_within_timeout(
    server, fast_failing_client
):
    # given the server does not answer for a long time
    server.hang(30, endpoint="query")
    started = time.monotonic()
    # when
    with pytest.raises(IcpUnavailable, match="timed out"):
        fast_failing_client.icrc1_balance_of(owner=OWNER)
    # then
    assert time.monotonic() - started < TIMEOUT + SLACK


def test_icrc1_balance_of_nothing_listening_raises_unavailable():
    # given a port nobody listens on any more
    with IcpTestServer() as gone:
        url = gone.url
    with IcpClient(host=url, root_key=gone.root_key, timeout=TIMEOUT) as client:
        # when / then
        with pytest.raises(IcpUnavailable):
            client.icrc1_balance_of(owner=OWNER)


# --------------------------------------------------------------------------- exchange rates


def test_get_exchange_rate_decimals_9_returns_exact_decimal(server, client):
    # given the XRC answers ICP/USD = 3_829_123_456 with 9 decimals
    server.set_exchange_rate(
        base="ICP",
        quote="USD",
        rate=3_829_123_456,
        decimals=9,
        timestamp=1_700_000_040,
        standard_deviation=1_500_000,
        forex_timestamp=1_699_920_000,
    )
    # when
    rate = client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert isinstance(rate, ExchangeRate)
    assert rate.rate == Decimal("3.829123456")
    assert str(rate.rate) == "3.829123456"
    assert (rate.base, rate.quote, rate.base_class, rate.quote_class) == (
        "ICP",
        "USD",
        "Cryptocurrency",
        "FiatCurrency",
    )
    assert (rate.timestamp, rate.decimals, rate.raw_rate) == (1_700_000_040, 9, 3_829_123_456)
    assert rate.standard_deviation == Decimal("0.0015")
    assert rate.forex_timestamp == 1_699_920_000
    assert rate.base_asset_num_received_rates == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        rate.rate = Decimal(0)  # type: ignore[misc]


def test_get_exchange_rate_update_call_sends_exact_candid_and_polls_same_request_id(server, client):
    # given
    server.set_exchange_rate(base="BTC", quote="EUR", rate=55_000 * 10**9, decimals=9)
    # when
    client.get_exchange_rate(base="btc", quote="eur", timestamp=1_700_000_000)
    # then: a call (not a query) with the request record, symbols upper-cased
    (call,) = server.requests_to("call")
    assert server.requests_to("query") == []
    assert (call.http_status, call.request_type, call.method_name) == (
        202,
        "call",
        "get_exchange_rate",
    )
    assert call.canister_id == call.effective_canister_id == XRC_CANISTER_ID
    assert call.envelope_keys == frozenset({"content"})
    assert call.self_describing_tag
    assert call.nonce is not None and len(call.nonce) == 16
    assert call.args == {
        "base_asset": {"symbol": "BTC", "class": "Cryptocurrency"},
        "quote_asset": {"symbol": "EUR", "class": "FiatCurrency"},
        "timestamp": 1_700_000_000,
    }
    asset_class, symbol = idl_hash("class"), idl_hash("symbol")
    assert call.arg_structure == [
        {
            idl_hash("base_asset"): {
                asset_class: {idl_hash("Cryptocurrency"): None},
                symbol: "BTC",
            },
            idl_hash("quote_asset"): {asset_class: {idl_hash("FiatCurrency"): None}, symbol: "EUR"},
            idl_hash("timestamp"): [1_700_000_000],
        }
    ]
    # and read_state polled the request id the server computed on its own
    polls = server.requests_to("read_state")
    assert polls and all(
        p.paths == ((b"request_status", call.request_id),) and p.sender == b"\x04" for p in polls
    )
    assert polls[-1].request_status == "replied"


def test_get_exchange_rate_no_timestamp_sends_empty_opt(server, client):
    # given
    server.set_exchange_rate(base="ICP", quote="USD", rate=10**9, decimals=9)
    # when
    client.get_exchange_rate(base="ICP", quote="USD")
    # then
    (call,) = server.requests_to("call")
    assert call.args["timestamp"] is None
    assert call.arg_structure[0][idl_hash("timestamp")] == []


def test_get_exchange_rate_repeated_calls_use_distinct_request_ids(server, client):
    # given the same question asked twice within one expiry window
    server.set_exchange_rate(base="ICP", quote="USD", rate=10**9, decimals=9)
    # when
    client.get_exchange_rate(base="ICP", quote="USD")
    client.get_exchange_rate(base="ICP", quote="USD")
    # then: the nonce keeps the IC from answering the second with the first's result
    first, second = server.requests_to("call")
    assert first.nonce != second.nonce
    assert first.request_id != second.request_id


@pytest.mark.parametrize("kind", [k for k in RATE_ERROR_KINDS if k != "Other"])
def test_get_exchange_rate_err_variant_raises_rate_error_of_that_kind(server, client, kind):
    # given the XRC answers Err(kind)
    server.set_exchange_rate_error(kind)
    # when
    with pytest.raises(IcpRateError) as info:
        client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert info.value.kind == kind
    assert info.value.code is None
    assert info.value.is_transient == (kind in ("Pending", "RateLimited"))


def test_get_exchange_rate_err_other_carries_code_and_description(server, client):
    # given the XRC answers Err(Other { code; description })
    server.set_exchange_rate_error("Other", code=7, description="exchange said no")
    # when
    with pytest.raises(IcpRateError) as info:
        client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert (info.value.kind, info.value.code, info.value.description) == (
        "Other",
        7,
        "exchange said no",
    )


def test_get_exchange_rate_unknown_pair_raises_crypto_base_asset_not_found(server, client):
    # given no rate configured for the pair
    # when / then
    with pytest.raises(IcpRateError) as info:
        client.get_exchange_rate(base="DOGE", quote="USD")
    assert info.value.kind == "CryptoBaseAssetNotFound"


def test_get_exchange_rate_canister_rejects_raises_icp_rejected(server, client):
    # given the call is accepted (202) and later rejected, as seen via read_state
    server.reject_method("get_exchange_rate", reject_code=4, message="no", error_code="IC0406")
    # when
    with pytest.raises(IcpRejected) as info:
        client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert (info.value.reject_code, info.value.message, info.value.error_code) == (
        REJECT_CANISTER_REJECT,
        "no",
        "IC0406",
    )
    assert server.requests_to("read_state")[-1].request_status == "rejected"


def test_get_exchange_rate_ingress_refused_raises_icp_rejected_without_polling(server, client):
    # given the XRC refuses ingress in inspect_message, as the mainnet XRC does
    server.set_exchange_rate(base="ICP", quote="USD", rate=10**9, decimals=9)
    server.reject_ingress(XRC_CANISTER_ID)
    # when
    with pytest.raises(IcpRejected) as info:
        client.get_exchange_rate(base="ICP", quote="USD")
    # then: the 200 answer to /call is the rejection; nothing to poll
    assert info.value.reject_code == REJECT_CANISTER_REJECT
    assert "rejected the message" in info.value.message
    assert server.requests_to("call")[0].http_status == 200
    assert server.requests_to("read_state") == []


def test_get_exchange_rate_processing_then_replied_polls_until_replied(server, client):
    # given the call stays received/processing for 3 polls
    server.set_exchange_rate(base="ICP", quote="USD", rate=4 * 10**9, decimals=9)
    server.set_processing_polls(3)
    # when
    rate = client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert rate.rate == Decimal(4)
    statuses = [r.request_status for r in server.requests_to("read_state")]
    assert statuses == ["received", "processing", "processing", "replied"]


def test_get_exchange_rate_never_finishes_raises_poll_timeout_within_bound(
    server, fast_failing_client
):
    # given a call that stays processing forever
    server.set_exchange_rate(base="ICP", quote="USD", rate=10**9, decimals=9)
    server.set_processing_polls(10**9)
    started = time.monotonic()
    # when
    with pytest.raises(IcpPollTimeout) as info:
        fast_failing_client.get_exchange_rate(base="ICP", quote="USD")
    # then: bounded by call_timeout, typed as "unavailable", and traceable
    assert time.monotonic() - started < fast_failing_client.call_timeout + SLACK
    assert isinstance(info.value, IcpUnavailable)
    assert info.value.last_status == "processing"
    assert info.value.request_id == server.requests_to("call")[0].request_id.hex()


@pytest.mark.parametrize("status", [500, 503])
def test_get_exchange_rate_call_5xx_raises_unavailable_without_polling(server, client, status):
    # given /call fails
    server.fail_next(status, endpoint="call")
    # when / then
    with pytest.raises(IcpUnavailable):
        client.get_exchange_rate(base="ICP", quote="USD")
    assert server.requests_to("read_state") == []


def test_get_exchange_rate_read_state_5xx_is_retried_until_replied(server, client):
    # given two failing read_state answers while the call is in flight
    server.set_exchange_rate(base="ICP", quote="USD", rate=2 * 10**9, decimals=9)
    server.fail_next(503, endpoint="read_state", times=2)
    # when
    rate = client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert rate.rate == Decimal(2)
    assert [r.http_status for r in server.requests_to("read_state")] == [503, 503, 200]


def test_get_exchange_rate_call_hangs_raises_unavailable_within_timeout(
    server, fast_failing_client
):
    # given /call never answers in time
    server.hang(30, endpoint="call")
    started = time.monotonic()
    # when
    with pytest.raises(IcpUnavailable):
        fast_failing_client.get_exchange_rate(base="ICP", quote="USD")
    # then
    assert time.monotonic() - started < TIMEOUT + SLACK


def test_get_exchange_rate_answer_for_other_pair_raises_protocol_error(server, client):
    # given the XRC (or a proxy) answers BTC/USD to an ICP/USD question
    server.set_exchange_rate(
        base="BTC", quote="USD", rate=60_000 * 10**9, decimals=9, for_request=("ICP", "USD")
    )
    # when / then: never turned into an ICP price
    with pytest.raises(IcpProtocolError, match="BTC/USD"):
        client.get_exchange_rate(base="ICP", quote="USD")


def test_get_exchange_rate_zero_rate_raises_protocol_error(server, client):
    # given a zero rate, which must never become a price
    server.set_exchange_rate(base="ICP", quote="USD", rate=0, decimals=9)
    # when / then
    with pytest.raises(IcpProtocolError):
        client.get_exchange_rate(base="ICP", quote="USD")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base": "IC P", "quote": "USD"}, "base symbol"),
        ({"base": "ICP", "quote": ""}, "quote symbol"),
        ({"base": "ICP", "quote": "USD", "base_class": "Stock"}, "asset class"),
        ({"base": "ICP", "quote": "USD", "timestamp": -1}, "timestamp"),
        ({"base": "ICP", "quote": "USD", "timestamp": 2**64}, "timestamp"),
    ],
)
def test_get_exchange_rate_invalid_arguments_raise_before_any_request(
    server, client, kwargs, match
):
    # given invalid arguments
    # when / then
    with pytest.raises(IcpInvalidArgument, match=match):
        client.get_exchange_rate(**kwargs)
    assert server.requests == []


def test_get_exchange_rate_any_nat64_and_decimals_is_exact(server):
    # given any nat64 rate and decimals 0..18 answered by the XRC
    with IcpClient(
        host=server.url, root_key=server.root_key, timeout=2.0, poll_interval=0.001
    ) as client:

        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(raw=st.integers(min_value=1, max_value=2**64 - 1), decimals=st.integers(0, 18))
        def check(raw, decimals):
            server.set_exchange_rate(base="ICP", quote="XDR", rate=raw, decimals=decimals)
            # when
            rate = client.get_exchange_rate(base="ICP", quote="XDR")
            # then
            assert rate.rate == Decimal(raw) / Decimal(10**decimals)
            assert rate.rate.as_tuple().exponent == -decimals

        check()


# --------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("http://127.0.0.1:4943", "http://127.0.0.1:4943"),
        ("http://localhost:4943/", "http://localhost:4943"),
        (DEFAULT_IC_HOST, "https://icp-api.io"),
        ("https://ic0.app/", "https://ic0.app"),
    ],
)
def test_icp_client_host_local_replica_or_mainnet_accepted(host, expected):
    # given a local dfx replica URL or a boundary node
    # when
    with IcpClient(host=host) as client:
        # then
        assert client.host == expected


@pytest.mark.parametrize(
    "host", ["http://ic0.app", "ftp://127.0.0.1", "127.0.0.1:4943", "https://ic0.app/api"]
)
def test_icp_client_host_insecure_or_malformed_rejected(host):
    # given a plain-http remote host or a malformed URL
    # when / then
    with pytest.raises(ValueError):
        IcpClient(host=host)


def test_icp_client_plain_http_remote_host_allowed_when_opted_in():
    # given an explicit opt-in (e.g. a replica in a docker network)
    # when
    with IcpClient(host="http://replica:4943", allow_insecure_http=True) as client:
        # then
        assert client.host == "http://replica:4943"


def test_icp_error_hierarchy_lets_callers_catch_one_base():
    # given / when / then
    for cls in (IcpInvalidArgument, IcpUnavailable, IcpPollTimeout, IcpRejected, IcpRateError):
        assert issubclass(cls, IcpError)
    assert issubclass(IcpInvalidArgument, ValueError)


# --------------------------------------------------------------------------- ic-py itself


def test_icpy_sign_request_anonymous_envelope_is_refused_by_spec_strict_server(server):
    # given an anonymous envelope built by ic-py's own sign_request (why chains.icp
    # builds its envelope itself)
    content = {
        "request_type": "query",
        "sender": b"\x04",
        "ingress_expiry": time.time_ns() + 60 * 10**9,
        "canister_id": principal_from_text(ICP_LEDGER_CANISTER_ID),
        "method_name": "icrc1_balance_of",
        "arg": b"DIDL\x00\x00",
    }
    _, body = sign_request(content, Identity(anonymous=True))
    # then ic-py emits null authentication fields the spec says must be omitted
    envelope = cbor2.loads(body)
    assert envelope["sender_pubkey"] is None and envelope["sender_sig"] is None
    # when posted
    answer = httpx.post(
        f"{server.url}/api/v2/canister/{ICP_LEDGER_CANISTER_ID}/query",
        content=body,
        headers={"Content-Type": "application/cbor"},
        timeout=2.0,
    )
    # then the strict server refuses it
    assert answer.status_code == 400
    assert "must omit" in answer.text


def test_icp_testserver_status_endpoint_answers_self_described_cbor(server):
    # given a running test server
    # when
    answer = httpx.get(f"{server.url}/api/v2/status", timeout=2.0)
    # then: like a replica, a CBOR map behind the 55799 self-describe tag
    assert answer.status_code == 200
    assert answer.content.startswith(b"\xd9\xd9\xf7")
    assert cbor2.loads(answer.content)["replica_health_status"] == "healthy"
