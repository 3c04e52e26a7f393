"""ICP principal balances (``chains.balances.principal_balances``) against the local
IC test server, whose answers are signed for real and verified by the client."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest
from django.test import override_settings

from chains.balances import (
    ICP_ASSET_ID,
    ICP_CHAIN_ID,
    ICP_NETWORK,
    OK,
    UNAVAILABLE,
    Balance,
    principal_balances,
)
from chains.icp import ICP_LEDGER_CANISTER_ID
from testing.icp_server import IcpTestServer

CKBTC = "mxzaz-hqaaa-aaaar-qaada-cai"
CKUSDC = "xevnm-gaaaa-aaaar-qafnq-cai"
ALICE = "rrkah-fqaaa-aaaaa-aaaaq-cai"
BOB = "2vxsx-fae"
TOKENS = [
    {"symbol": "ICP", "ledger": ICP_LEDGER_CANISTER_ID, "decimals": 8},
    {"symbol": "ckBTC", "ledger": CKBTC, "decimals": 8},
    {"symbol": "ckUSDC", "ledger": CKUSDC, "decimals": 6},
]


@pytest.fixture
def server():
    with IcpTestServer(other_ledgers=(CKBTC, CKUSDC), delegated=True) as srv:
        yield srv


def configured(server, *, tokens=TOKENS, cache_seconds=30, url=None):
    return override_settings(
        **server.client_settings(),
        ICP_HOST=url or server.url,
        ICP_TOKENS=tokens,
        WALLET_BALANCE_CACHE_SECONDS=cache_seconds,
        WALLET_BALANCE_RPC_TIMEOUT=1.0,
    )


def row(principal, token, amount):
    return Balance(
        address=principal,
        network=ICP_NETWORK,
        chain_id=ICP_CHAIN_ID,
        asset_id=ICP_ASSET_ID,
        symbol=token["symbol"],
        decimals=token["decimals"],
        token=token["ledger"],
        amount=None if amount is None else Decimal(amount),
        status=UNAVAILABLE if amount is None else OK,
    )


def test_principal_balances_reads_every_token_exactly_in_base_units(server):
    # given: Alice holds 12.5 ICP, 1 satoshi of ckBTC and 1,000,000.000001 ckUSDC
    server.set_balance(ALICE, 1_250_000_000)
    server.set_balance(ALICE, 1, ledger_canister_id=CKBTC)
    server.set_balance(ALICE, 1_000_000_000_001, ledger_canister_id=CKUSDC)
    server.set_balance(BOB, 10**30 + 7)  # beyond any uint64: nat is unbounded
    with configured(server):
        # when
        rows = principal_balances([ALICE, BOB])
    # then
    icp_, ckbtc, ckusdc = TOKENS
    assert rows == [
        row(ALICE, icp_, "12.50000000"),
        row(ALICE, ckbtc, "0.00000001"),
        row(ALICE, ckusdc, "1000000.000001"),
        row(BOB, icp_, "10000000000000000000000.00000007"),
        row(BOB, ckbtc, "0E-8"),
        row(BOB, ckusdc, "0E-6"),
    ]
    assert [r.amount.as_tuple().exponent for r in rows] == [-8, -8, -6, -8, -8, -6]
    queried = {(r.canister_id, r.args["owner"]) for r in server.requests_to("query")}
    assert queried == {(t["ledger"], p) for t in TOKENS for p in (ALICE, BOB)}


def test_principal_balances_default_token_is_icp_with_8_decimals(server, settings):
    # given ICP_TOKENS at its default (config/settings/base.py)
    server.set_balance(ALICE, 100_000_000)
    settings.ICP_HOST = server.url
    settings.ICP_ROOT_KEY = server.root_key.hex()
    # when
    rows = principal_balances([ALICE])
    # then
    assert rows == [row(ALICE, TOKENS[0], "1.00000000")]


def test_principal_balances_duplicates_and_letter_case_are_one_principal(server):
    # given
    server.set_balance(ALICE, 5)
    with configured(server, tokens=TOKENS[:1]):
        # when
        rows = principal_balances([ALICE.upper(), ALICE, BOB])
    # then
    assert [(r.address, r.amount) for r in rows] == [
        (ALICE, Decimal("0.00000005")),
        (BOB, Decimal("0E-8")),
    ]


def test_ic_not_reachable_gives_unavailable_rows_quickly():
    # given a host nobody listens on any more
    with IcpTestServer() as gone:
        url = gone.url
    with configured(gone, url=url):
        started = time.monotonic()
        # when
        rows = principal_balances([ALICE, BOB])
    # then
    assert [(r.status, r.amount) for r in rows] == [(UNAVAILABLE, None)] * 6
    assert time.monotonic() - started < 2.0


def test_ic_that_never_answers_costs_one_timeout_per_token():
    # given a socket that accepts connections and never answers
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        with (
            IcpTestServer() as keys,
            configured(keys, url=f"http://127.0.0.1:{silent.getsockname()[1]}"),
        ):
            started = time.monotonic()
            # when
            rows = principal_balances([ALICE, BOB, "aaaaa-aa"])
            elapsed = time.monotonic() - started
    finally:
        silent.close()
    # then: tokens side by side, one timeout (1 s) each, not one per principal
    assert {r.status for r in rows} == {UNAVAILABLE}
    assert elapsed < 2.5, elapsed


def test_answers_that_do_not_verify_give_unavailable_rows(server):
    # given a replica whose query signatures are forged
    server.set_balance(ALICE, 5)
    server.misbehave(query_signatures="invalid")
    with configured(server, cache_seconds=0):
        # when
        rows = principal_balances([ALICE])
    # then
    assert {(r.status, r.amount) for r in rows} == {(UNAVAILABLE, None)}


def test_client_trusting_another_root_key_gives_unavailable_rows(server):
    # given the default (mainnet) root key against the test server
    server.set_balance(ALICE, 5)
    with configured(server), override_settings(ICP_ROOT_KEY=""):
        # when
        rows = principal_balances([ALICE])
    # then
    assert {r.status for r in rows} == {UNAVAILABLE}


def test_a_ledger_that_does_not_exist_is_unavailable_for_its_rows_only(server):
    # given a configured ledger the server does not host
    tokens = [*TOKENS[:1], {"symbol": "GONE", "ledger": "aaaaa-aa", "decimals": 8}]
    server.set_balance(ALICE, 3)
    with configured(server, tokens=tokens):
        # when
        rows = principal_balances([ALICE])
    # then
    assert [(r.symbol, r.status) for r in rows] == [("ICP", OK), ("GONE", UNAVAILABLE)]


def test_second_read_of_the_same_principals_is_served_from_the_cache(server):
    # given
    server.set_balance(ALICE, 1)
    with configured(server):
        first = principal_balances([ALICE, BOB])
        sent = len(server.requests)
        server.set_balance(ALICE, 2)
        # when: the same set in another order
        second = principal_balances([BOB, ALICE])
        after_second = len(server.requests)
        # and a different set
        third = principal_balances([ALICE])
    # then
    assert after_second == sent
    assert second == [*first[3:], *first[:3]]
    assert third[0].amount == Decimal("0.00000002")


def test_cache_seconds_zero_reads_the_ic_every_time(server):
    # given
    with configured(server, cache_seconds=0):
        # when
        principal_balances([ALICE])
        principal_balances([ALICE])
    # then
    assert len(server.requests_to("query")) == 2 * len(TOKENS)


@pytest.mark.parametrize("bad", ["not-a-principal", "0x" + "11" * 20, ""])
def test_something_that_is_not_a_principal_is_refused(bad):
    # when / then
    with pytest.raises(ValueError, match="not an ICP principal"):
        principal_balances([bad])


@pytest.mark.parametrize(
    "tokens",
    [
        [{"symbol": "", "ledger": CKBTC, "decimals": 8}],
        [{"symbol": "X", "ledger": "nope", "decimals": 8}],
        [{"symbol": "X", "ledger": CKBTC, "decimals": 37}],
    ],
)
def test_misconfigured_tokens_are_refused(server, tokens):
    # when / then
    with configured(server, tokens=tokens), pytest.raises(ValueError, match="ICP_TOKENS"):
        principal_balances([ALICE])


def test_no_principals_or_no_tokens_send_nothing(server):
    # when
    with configured(server):
        none_asked = principal_balances([])
    with configured(server, tokens=[]):
        no_tokens = principal_balances([ALICE])
    # then
    assert none_asked == [] and no_tokens == []
    assert server.requests == []
