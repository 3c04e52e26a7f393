"""The crash run's checks (bench/chaos.py ``check``) on a chain history written here: a
clean swap passes, and each kind of loss the run looks for is reported. The chains and the
database are stand-ins answering the few reads the checks make; the real run reads anvil
and PostgreSQL."""

from __future__ import annotations

import copy

import pytest
from eth_abi import encode

from bench.chaos import (
    TOPIC_LOCKED,
    TOPIC_REDEEMED,
    TOPIC_REFUNDED,
    UNITS,
    Ledger,
    check,
)

MAKER = "0x" + "11" * 20
TAKER = "0x" + "22" * 20
RELAYER = "0x" + "33" * 20
HTLC = {"local-a": "0x" + "a1" * 20, "local-b": "0x" + "b1" * 20}
TOKEN = {"local-a": "0x" + "a2" * 20, "local-b": "0x" + "b2" * 20}
TAKER_LOCK, MAKER_LOCK = "0x" + "01" * 32, "0x" + "02" * 32
RELAY_TX = "0x" + "99" * 32


def _topic(address: str) -> str:
    return "0x" + address[2:].rjust(64, "0")


def _locked(lock_id, sender, recipient, network, tx, index=0):
    data = encode(
        ["address", "uint256", "bytes32", "uint256"], [TOKEN[network], UNITS, b"\1" * 32, 10**9]
    )
    return {
        "topics": [TOPIC_LOCKED, lock_id, _topic(sender), _topic(recipient)],
        "data": "0x" + data.hex(),
        "transactionHash": tx,
        "logIndex": hex(index),
    }


def _ended(topic, lock_id, tx):
    return {"topics": [topic, lock_id], "data": "0x", "transactionHash": tx, "logIndex": "0x0"}


class Chain:
    def __init__(self, logs, balances, relayer_txs):
        self.logs, self.balances, self.relayer_txs = logs, balances, relayer_txs

    def call(self, method, *params):
        if method == "eth_getLogs":
            return self.logs
        if method == "eth_call":
            owner = "0x" + params[0]["data"][-40:]
            return hex(self.balances.get(owner.lower(), 0))
        if method == "eth_blockNumber":
            return "0x0"
        if method == "eth_getBlockByNumber":
            return {
                "transactions": [
                    {"from": RELAYER, "hash": h, "nonce": "0x0"} for h in self.relayer_txs
                ]
            }
        raise AssertionError(method)


class Database:
    def __init__(self, chains, swap_state="completed", stored_twice=False):
        self.chains, self.swap_state, self.stored_twice = chains, swap_state, stored_twice

    def query(self, sql, params=()):
        if "chains_deployment" in sql:
            return [(HTLC[params[0]],)]
        if "FROM swaps_swap s" in sql:
            return [("swap-1", self.swap_state, TAKER_LOCK, MAKER_LOCK, TAKER, MAKER)]
        if "chains_relayeraccount" in sql:
            return [("local-a", RELAYER), ("local-b", RELAYER)]
        if "chains_chainevent" in sql:
            names = {TOPIC_LOCKED: "Locked", TOPIC_REDEEMED: "Redeemed", TOPIC_REFUNDED: "Refunded"}
            rows = [
                (e["transactionHash"], int(e["logIndex"], 16), names[e["topics"][0]])
                for e in self.chains[params[0]].logs
            ]
            return rows + rows[:1] if self.stored_twice else rows
        if "GROUP BY network, nonce" in sql:
            return []
        if "replaced_hashes" in sql:
            return [("local-b", RELAY_TX, [])]
        raise AssertionError(sql)


@pytest.fixture
def completed():
    """A completed swap: the taker locked on local-b and the maker on local-a, the taker
    redeemed the maker's lock and the relayer the taker's, for the maker."""
    chains = {
        "local-a": Chain(
            [
                _locked(MAKER_LOCK, MAKER, TAKER, "local-a", "0xa0"),
                _ended(TOPIC_REDEEMED, MAKER_LOCK, "0xa1"),
            ],
            {MAKER: UNITS, TAKER: UNITS},  # the maker was minted two swaps' worth, sold one
            [],
        ),
        "local-b": Chain(
            [
                _locked(TAKER_LOCK, TAKER, MAKER, "local-b", "0xb0"),
                _ended(TOPIC_REDEEMED, TAKER_LOCK, RELAY_TX),
            ],
            {MAKER: UNITS},
            [RELAY_TX],
        ),
    }
    ledger = Ledger()
    ledger.minted.update({(31337, MAKER): 2 * UNITS, (31338, TAKER): UNITS})
    ledger.parties |= {(31337, MAKER), (31338, MAKER), (31337, TAKER), (31338, TAKER)}
    ledger.listings[MAKER] = 2 * UNITS
    return chains, ledger


def _run(chains, ledger, **database):
    return check(Database(chains, **database), chains, TOKEN, ledger)


def test_a_clean_completed_swap_passes_every_check(completed):
    assert _run(*completed) == []


def test_an_event_stored_twice_is_reported(completed):
    found = _run(*completed, stored_twice=True)
    assert len(found) == 2 and all("stored 2×, on chain 1×" in v for v in found), found


def test_a_completed_swap_whose_payment_went_back_to_the_taker_is_reported(completed):
    chains, ledger = completed
    chains = copy.deepcopy(chains)
    chains["local-b"].logs[1] = _ended(TOPIC_REFUNDED, TAKER_LOCK, RELAY_TX)
    chains["local-b"].balances = {TAKER: UNITS}
    found = _run(chains, ledger)
    assert any("completed, but the chains show" in v for v in found), found


def test_a_balance_one_base_unit_off_is_reported(completed):
    chains, ledger = completed
    chains["local-a"].balances[TAKER] = UNITS - 1
    found = _run(chains, ledger)
    assert found == [f"{TAKER} on local-a: {UNITS - 1} base units, {UNITS} expected"], found


def test_a_relayer_transaction_the_database_does_not_know_is_reported(completed):
    chains, ledger = completed
    chains["local-a"].relayer_txs.append("0x" + "77" * 32)
    found = _run(chains, ledger)
    assert len(found) == 1 and "unknown" in found[0], found


def test_a_maker_locking_more_than_its_listing_offered_is_reported(completed):
    chains, ledger = completed
    ledger.listings[MAKER] = UNITS - 1
    found = _run(chains, ledger)
    assert found == [f"maker {MAKER}: locked {UNITS} of {UNITS - 1} offered"], found
