"""Behaviour of chains/contracts/Escrow.vy: every path and every refusal.

Each test runs twice through the ``chain`` fixture: on eth-tester (in-process py-evm) and
on a real anvil node over JSON-RPC, with locally signed transactions in both cases.
Actors: alice is the buyer, bob the seller, carol a stranger, account 5 the arbiter.
"""

from __future__ import annotations

import pytest
from eth_utils import keccak
from web3.contract import Contract

from chains.compiler import compile_contract, runtime_code_hash

from .conftest import ZERO_ADDRESS, Chain, revert_reason
from .escrow_support import (
    AMOUNT,
    DISPUTED,
    FEE,
    FUNDED,
    NONE,
    REFUNDED,
    RELEASED,
    RESOLVED,
    TREASURY,
    deploy_escrow,
    deploy_token,
    deposit,
    events,
    expected_order_id,
    ref_of,
)


@pytest.fixture
def arbiter(chain):
    return chain.accounts[5]


@pytest.fixture
def escrow(chain, owner, arbiter) -> Contract:
    return deploy_escrow(chain, owner=owner, arbiter=arbiter)


@pytest.fixture
def token(chain, escrow, owner, alice) -> Contract:
    return deploy_token(chain, escrow, owner=owner, holder=alice)


def _native(chain: Chain, escrow: Contract, alice, bob, **kw):
    return deposit(chain, escrow, depositor=alice, seller=bob.address, **kw)


# ------------------------------------------------------------ deployment


def test_init_records_arbiter_and_treasury(chain, escrow, arbiter):
    # given a fresh escrow (fixture)
    # then
    assert escrow.functions.arbiter().call() == arbiter.address
    assert escrow.functions.treasury().call() == TREASURY


@pytest.mark.parametrize(
    ("which", "reason"), [("arbiter", "zero arbiter"), ("treasury", "zero treasury")]
)
def test_init_zero_address_refused(chain, owner, arbiter, which, reason):
    # given
    compiled = compile_contract("Escrow")
    factory = chain.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    args = [arbiter.address, TREASURY]
    args[0 if which == "arbiter" else 1] = ZERO_ADDRESS
    data = factory.constructor(*args).data_in_transaction
    # when / then (a call, because eth-tester keeps no trace of a mined failure)
    with pytest.raises(Exception) as raised:
        chain.w3.eth.call({"from": owner.address, "data": data})
    assert revert_reason(raised.value) == reason


def test_init_deployed_code_matches_compiled_runtime_hash(chain, escrow):
    # then the tree's source compiles to exactly what is on chain (no immutables)
    assert keccak(bytes(chain.w3.eth.get_code(escrow.address))) == runtime_code_hash("Escrow")


def test_getOrder_unknown_id_returns_all_zero(chain, escrow):
    assert tuple(escrow.functions.getOrder(b"\x42" * 32).call()) == (
        ZERO_ADDRESS,
        ZERO_ADDRESS,
        ZERO_ADDRESS,
        0,
        0,
        0,
        NONE,
    )


def test_orderId_equals_documented_formula(chain, escrow, alice):
    # given
    ref = ref_of(9)
    # when
    got = escrow.functions.orderId(alice.address, ref).call()
    # then
    assert got == expected_order_id(
        chain_id=chain.chain_id, escrow=escrow.address, depositor=alice.address, ref=ref
    )


# --------------------------------------------------------------- deposit


def test_deposit_native_stores_order_moves_coin_and_emits_event(chain, escrow, alice, bob):
    # given
    alice_before = chain.balance(alice.address)
    # when
    order = _native(chain, escrow, alice, bob)
    # then
    assert tuple(escrow.functions.getOrder(order.id).call()) == order.as_tuple(FUNDED)
    assert chain.balance(escrow.address) == AMOUNT
    assert chain.balance(alice.address) == alice_before - AMOUNT - chain.gas_cost(order.receipt)
    assert events(escrow, order.receipt, "EscrowDeposited") == [
        {
            "id": order.id,
            "ref": order.ref,
            "token": ZERO_ADDRESS,
            "buyer": alice.address,
            "seller": bob.address,
            "amount": AMOUNT,
            "fee": FEE,
            "release_at": order.release_at,
        }
    ]


def test_deposit_indexes_id_buyer_and_seller(chain, escrow, alice, bob):
    # when
    order = _native(chain, escrow, alice, bob)
    # then wallets can filter deposits by order, buyer and seller
    (log,) = order.receipt["logs"]
    assert bytes(log["topics"][1]) == order.id
    assert bytes(log["topics"][2])[-20:] == bytes.fromhex(alice.address[2:])
    assert bytes(log["topics"][3])[-20:] == bytes.fromhex(bob.address[2:])


def test_deposit_token_pulls_exactly_amount(chain, escrow, token, alice, bob):
    # given
    before = token.functions.balanceOf(alice.address).call()
    # when
    order = deposit(chain, escrow, depositor=alice, seller=bob.address, token=token)
    # then
    assert token.functions.balanceOf(escrow.address).call() == AMOUNT
    assert token.functions.balanceOf(alice.address).call() == before - AMOUNT
    assert tuple(escrow.functions.getOrder(order.id).call()) == order.as_tuple(FUNDED)


def test_deposit_for_another_buyer_names_that_buyer(chain, escrow, alice, bob, carol):
    # given carol pays for an order whose buyer (refund address) is alice
    # when
    order = deposit(chain, escrow, depositor=carol, buyer=alice.address, seller=bob.address)
    # then the id is carol's, the buyer alice
    assert escrow.functions.getOrder(order.id).call()[1] == alice.address


def test_deposit_same_ref_by_another_depositor_is_another_order(chain, escrow, alice, bob, carol):
    # given alice deposited for ref 1
    first = _native(chain, escrow, alice, bob, seed=1)
    # when carol deposits for the same ref
    second = deposit(chain, escrow, depositor=carol, seller=bob.address, seed=1)
    # then nobody can take alice's id: carol's deposit has its own
    assert first.id != second.id
    assert escrow.functions.getOrder(first.id).call()[1] == alice.address


def test_deposit_same_ref_twice_refused(chain, escrow, alice, bob):
    # given
    order = _native(chain, escrow, alice, bob)
    # when / then
    call = escrow.functions.deposit(
        order.ref, ZERO_ADDRESS, alice.address, bob.address, AMOUNT, FEE, order.release_at + 1
    )
    chain.expect_revert(call, "order exists", sender=alice, value=AMOUNT)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": 0, "fee": 0}, "zero amount"),
        ({"buyer": ZERO_ADDRESS}, "zero buyer"),
        ({"seller": ZERO_ADDRESS}, "zero seller"),
        ({"seller": "buyer"}, "buyer is seller"),
        ({"fee": AMOUNT // 10 + 1}, "fee too high"),
        ({"release_at": -1}, "release in past"),
        ({"value": AMOUNT - 1}, "wrong value"),
        ({"value": AMOUNT + 1}, "wrong value"),
    ],
)
def test_deposit_native_refusals(chain, escrow, alice, bob, change, reason):
    # given a valid deposit with one field changed
    terms = {
        "buyer": alice.address,
        "seller": bob.address,
        "amount": AMOUNT,
        "fee": FEE,
        "release_at": chain.now() + 3600,
    }
    terms.update(change)
    if terms["seller"] == "buyer":
        terms["seller"] = terms["buyer"]
    if terms["release_at"] == -1:
        terms["release_at"] = chain.now()
    value = terms.pop("value", terms["amount"])
    call = escrow.functions.deposit(
        ref_of(1),
        ZERO_ADDRESS,
        terms["buyer"],
        terms["seller"],
        terms["amount"],
        terms["fee"],
        terms["release_at"],
    )
    # when / then
    chain.expect_revert(call, reason, sender=alice, value=value)


def test_deposit_fee_at_max_share_accepted(chain, escrow, alice, bob):
    # when the fee is exactly 10 % of the amount
    order = _native(chain, escrow, alice, bob, fee=AMOUNT // 10)
    # then
    assert escrow.functions.getOrder(order.id).call()[4] == AMOUNT // 10


def test_deposit_release_time_one_second_ahead_accepted(chain, escrow, alice, bob):
    # given the next block is at exactly T
    t = chain.now() + 100
    chain.set_next_timestamp(t)
    # when
    call = escrow.functions.deposit(
        ref_of(1), ZERO_ADDRESS, alice.address, bob.address, AMOUNT, FEE, t + 1
    )
    receipt = chain.transact(call, sender=alice, value=AMOUNT)
    # then
    assert chain.block_time(receipt) == t


def test_deposit_token_with_coin_refused(chain, escrow, token, alice, bob):
    # given a payable call that sends coin alongside a token deposit
    call = escrow.functions.deposit(
        ref_of(1), token.address, alice.address, bob.address, AMOUNT, FEE, chain.now() + 600
    )
    # when / then
    chain.expect_revert(call, "wrong value", sender=alice, value=1)


def test_deposit_token_not_a_contract_refused(chain, escrow, alice, bob, carol):
    call = escrow.functions.deposit(
        ref_of(1), carol.address, alice.address, bob.address, AMOUNT, FEE, chain.now() + 600
    )
    chain.expect_revert(call, "not a token", sender=alice)


def test_deposit_token_without_allowance_refused(chain, escrow, token, bob, carol, owner):
    # given carol holds tokens but approved nothing
    chain.transact(token.functions.mint(carol.address, AMOUNT), sender=owner)
    call = escrow.functions.deposit(
        ref_of(1), token.address, carol.address, bob.address, AMOUNT, FEE, chain.now() + 600
    )
    # when / then
    chain.expect_revert(call, "transfer failed", sender=carol)


def test_deposit_fee_on_transfer_token_refused(chain, escrow, alice, bob, owner):
    # given a token that burns 1 % of every transfer
    tok = chain.deploy("test/FeeOnTransferToken", sender=owner)
    chain.transact(tok.functions.mint(alice.address, AMOUNT), sender=owner)
    chain.transact(tok.functions.approve(escrow.address, AMOUNT), sender=alice)
    call = escrow.functions.deposit(
        ref_of(1), tok.address, alice.address, bob.address, AMOUNT, FEE, chain.now() + 600
    )
    # when / then
    chain.expect_revert(call, "fee-on-transfer", sender=alice)


def test_deposit_false_returning_token_refused(chain, escrow, alice, bob, owner):
    # given a token that returns false instead of reverting
    tok = chain.deploy("test/FalseReturnToken", sender=owner)
    chain.transact(tok.functions.mint(alice.address, AMOUNT), sender=owner)
    chain.transact(tok.functions.approve(escrow.address, AMOUNT), sender=alice)
    chain.transact(tok.functions.set_fail(True), sender=owner)
    call = escrow.functions.deposit(
        ref_of(1), tok.address, alice.address, bob.address, AMOUNT, FEE, chain.now() + 600
    )
    # when / then
    chain.expect_revert(call, "transfer failed", sender=alice)


def test_deposit_and_release_token_without_return_value(chain, escrow, alice, bob, owner):
    # given a USDT-style token whose transfers return nothing
    tok = chain.deploy("test/NoReturnToken", sender=owner)
    chain.transact(tok.functions.mint(alice.address, AMOUNT), sender=owner)
    chain.transact(tok.functions.approve(escrow.address, AMOUNT), sender=alice)
    # when
    order = deposit(chain, escrow, depositor=alice, seller=bob.address, token=tok)
    chain.transact(escrow.functions.release(order.id), sender=alice)
    # then
    assert tok.functions.balanceOf(bob.address).call() == AMOUNT - FEE
    assert tok.functions.balanceOf(TREASURY).call() == FEE
    assert tok.functions.balanceOf(escrow.address).call() == 0


# --------------------------------------------------------------- release


def test_release_by_buyer_pays_seller_and_treasury(chain, escrow, alice, bob):
    # given
    order = _native(chain, escrow, alice, bob)
    bob_before, treasury_before = chain.balance(bob.address), chain.balance(TREASURY)
    # when the buyer releases long before the release time
    receipt = chain.transact(escrow.functions.release(order.id), sender=alice)
    # then
    assert chain.balance(bob.address) == bob_before + AMOUNT - FEE
    assert chain.balance(TREASURY) == treasury_before + FEE
    assert chain.balance(escrow.address) == 0
    assert escrow.functions.getOrder(order.id).call()[6] == RELEASED
    assert events(escrow, receipt, "EscrowReleased") == [
        {"id": order.id, "by": alice.address, "seller_amount": AMOUNT - FEE, "fee": FEE}
    ]


def test_release_token_pays_seller_and_treasury(chain, escrow, token, alice, bob, carol):
    # given
    order = deposit(chain, escrow, depositor=alice, seller=bob.address, token=token)
    chain.advance(3600)
    # when a stranger releases after the release time
    chain.transact(escrow.functions.release(order.id), sender=carol)
    # then
    assert token.functions.balanceOf(bob.address).call() == AMOUNT - FEE
    assert token.functions.balanceOf(TREASURY).call() == FEE
    assert token.functions.balanceOf(escrow.address).call() == 0


def test_release_zero_fee_pays_treasury_nothing(chain, escrow, alice, bob):
    # given
    order = _native(chain, escrow, alice, bob, fee=0)
    treasury_before = chain.balance(TREASURY)
    # when
    chain.transact(escrow.functions.release(order.id), sender=alice)
    # then
    assert chain.balance(TREASURY) == treasury_before
    assert chain.balance(escrow.address) == 0


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_release_by_other_than_buyer_before_release_time_refused(
    chain, escrow, alice, bob, carol, who
):
    order = _native(chain, escrow, alice, bob)
    sender = {"bob": bob, "carol": carol}[who]
    chain.expect_revert(escrow.functions.release(order.id), "too early", sender=sender)


def test_release_by_stranger_one_second_before_release_time_refused(
    chain, escrow, alice, bob, carol
):
    # given the next block is one second before the release time
    order = _native(chain, escrow, alice, bob)
    chain.set_next_timestamp(order.release_at - 1)
    receipt = chain.transact(
        escrow.functions.release(order.id), sender=carol, gas=1_000_000, check=False
    )
    # then
    assert receipt["status"] == 0
    assert chain.block_time(receipt) == order.release_at - 1


def test_release_by_stranger_at_release_time_accepted(chain, escrow, alice, bob, carol):
    # given the next block is at exactly the release time
    order = _native(chain, escrow, alice, bob)
    chain.set_next_timestamp(order.release_at)
    # when
    receipt = chain.transact(escrow.functions.release(order.id), sender=carol)
    # then
    assert chain.block_time(receipt) == order.release_at
    assert escrow.functions.getOrder(order.id).call()[6] == RELEASED


def test_release_twice_refused(chain, escrow, alice, bob):
    order = _native(chain, escrow, alice, bob)
    chain.transact(escrow.functions.release(order.id), sender=alice)
    chain.expect_revert(escrow.functions.release(order.id), "not releasable", sender=alice)


def test_release_unknown_order_refused(chain, escrow, carol):
    chain.advance(10)
    chain.expect_revert(escrow.functions.release(b"\x01" * 32), "not releasable", sender=carol)


def test_release_disputed_by_stranger_after_release_time_refused(chain, escrow, alice, bob, carol):
    # given a dispute, then the release time passes
    order = _native(chain, escrow, alice, bob)
    chain.transact(escrow.functions.dispute(order.id), sender=bob)
    chain.advance(3600)
    # when / then the automatic release is stopped
    chain.expect_revert(escrow.functions.release(order.id), "not releasable", sender=carol)


def test_release_disputed_by_buyer_concedes(chain, escrow, alice, bob):
    # given a dispute
    order = _native(chain, escrow, alice, bob)
    chain.transact(escrow.functions.dispute(order.id), sender=alice)
    bob_before = chain.balance(bob.address)
    # when the buyer releases anyway
    chain.transact(escrow.functions.release(order.id), sender=alice)
    # then the seller is paid as on any release
    assert chain.balance(bob.address) == bob_before + AMOUNT - FEE
    assert escrow.functions.getOrder(order.id).call()[6] == RELEASED


# ---------------------------------------------------------------- refund


@pytest.mark.parametrize("disputed", [False, True])
def test_refund_by_seller_pays_buyer_in_full(chain, escrow, alice, bob, disputed):
    # given
    order = _native(chain, escrow, alice, bob)
    if disputed:
        chain.transact(escrow.functions.dispute(order.id), sender=alice)
    alice_before, treasury_before = chain.balance(alice.address), chain.balance(TREASURY)
    # when
    receipt = chain.transact(escrow.functions.refund(order.id), sender=bob)
    # then the whole deposit, no fee
    assert chain.balance(alice.address) == alice_before + AMOUNT
    assert chain.balance(TREASURY) == treasury_before
    assert chain.balance(escrow.address) == 0
    assert escrow.functions.getOrder(order.id).call()[6] == REFUNDED
    assert events(escrow, receipt, "EscrowRefunded") == [{"id": order.id, "amount": AMOUNT}]


def test_refund_after_release_time_still_allowed(chain, escrow, alice, bob):
    order = _native(chain, escrow, alice, bob)
    chain.advance(7200)
    chain.transact(escrow.functions.refund(order.id), sender=bob)
    assert escrow.functions.getOrder(order.id).call()[6] == REFUNDED


@pytest.mark.parametrize("who", ["alice", "carol", "arbiter"])
def test_refund_by_other_than_seller_refused(chain, escrow, alice, bob, carol, arbiter, who):
    order = _native(chain, escrow, alice, bob)
    sender = {"alice": alice, "carol": carol, "arbiter": arbiter}[who]
    chain.expect_revert(escrow.functions.refund(order.id), "not seller", sender=sender)


def test_refund_after_release_refused(chain, escrow, alice, bob):
    order = _native(chain, escrow, alice, bob)
    chain.transact(escrow.functions.release(order.id), sender=alice)
    chain.expect_revert(escrow.functions.refund(order.id), "not refundable", sender=bob)


# --------------------------------------------------------------- dispute


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_dispute_by_a_party_before_release_time(chain, escrow, alice, bob, who):
    # given
    order = _native(chain, escrow, alice, bob)
    sender = {"alice": alice, "bob": bob}[who]
    # when
    receipt = chain.transact(escrow.functions.dispute(order.id), sender=sender)
    # then
    assert escrow.functions.getOrder(order.id).call()[6] == DISPUTED
    assert events(escrow, receipt, "EscrowDisputed") == [{"id": order.id, "by": sender.address}]


@pytest.mark.parametrize("who", ["carol", "arbiter"])
def test_dispute_by_non_party_refused(chain, escrow, alice, bob, carol, arbiter, who):
    order = _native(chain, escrow, alice, bob)
    sender = {"carol": carol, "arbiter": arbiter}[who]
    chain.expect_revert(escrow.functions.dispute(order.id), "not a party", sender=sender)


def test_dispute_at_release_time_refused(chain, escrow, alice, bob):
    # given the next block is at exactly the release time
    order = _native(chain, escrow, alice, bob)
    chain.set_next_timestamp(order.release_at)
    # when
    receipt = chain.transact(
        escrow.functions.dispute(order.id), sender=alice, gas=1_000_000, check=False
    )
    # then too late: from this second on anyone may release instead
    assert receipt["status"] == 0
    assert chain.block_time(receipt) == order.release_at
    assert escrow.functions.getOrder(order.id).call()[6] == FUNDED


def test_dispute_after_release_time_refused_with_reason(chain, escrow, alice, bob):
    order = _native(chain, escrow, alice, bob)
    chain.advance(3600)
    chain.expect_revert(escrow.functions.dispute(order.id), "too late", sender=alice)


def test_dispute_twice_refused(chain, escrow, alice, bob):
    order = _native(chain, escrow, alice, bob)
    chain.transact(escrow.functions.dispute(order.id), sender=alice)
    chain.expect_revert(escrow.functions.dispute(order.id), "not disputable", sender=bob)


# --------------------------------------------------------------- resolve


def _disputed(chain, escrow, alice, bob, **kw):
    order = _native(chain, escrow, alice, bob, **kw)
    chain.transact(escrow.functions.dispute(order.id), sender=alice)
    return order


def test_resolve_30_70_pays_exactly_and_no_fee(chain, escrow, alice, bob, arbiter):
    # given
    order = _disputed(chain, escrow, alice, bob)
    alice_before, bob_before = chain.balance(alice.address), chain.balance(bob.address)
    treasury_before = chain.balance(TREASURY)
    # when the arbiter gives the buyer 30 %
    receipt = chain.transact(escrow.functions.resolve(order.id, 3000), sender=arbiter)
    # then
    assert chain.balance(alice.address) == alice_before + AMOUNT * 3 // 10
    assert chain.balance(bob.address) == bob_before + AMOUNT - AMOUNT * 3 // 10
    assert chain.balance(TREASURY) == treasury_before
    assert chain.balance(escrow.address) == 0
    assert escrow.functions.getOrder(order.id).call()[6] == RESOLVED
    assert events(escrow, receipt, "EscrowResolved") == [
        {
            "id": order.id,
            "buyer_share_bps": 3000,
            "buyer_amount": AMOUNT * 3 // 10,
            "seller_amount": AMOUNT - AMOUNT * 3 // 10,
        }
    ]


def test_resolve_rounds_the_buyer_down_and_the_seller_gets_the_rest(
    chain, escrow, alice, bob, arbiter
):
    # given an amount that does not divide: 7 * 3333 / 10000 = 2.33
    order = _disputed(chain, escrow, alice, bob, amount=7, fee=0)
    # when
    receipt = chain.transact(escrow.functions.resolve(order.id, 3333), sender=arbiter)
    # then
    (event,) = events(escrow, receipt, "EscrowResolved")
    assert (event["buyer_amount"], event["seller_amount"]) == (2, 5)
    assert chain.balance(escrow.address) == 0


@pytest.mark.parametrize("bps", [0, 10_000])
def test_resolve_all_to_one_side(chain, escrow, alice, bob, arbiter, bps):
    # given
    order = _disputed(chain, escrow, alice, bob)
    alice_before, bob_before = chain.balance(alice.address), chain.balance(bob.address)
    # when
    chain.transact(escrow.functions.resolve(order.id, bps), sender=arbiter)
    # then
    assert chain.balance(alice.address) - alice_before == (AMOUNT if bps else 0)
    assert chain.balance(bob.address) - bob_before == (0 if bps else AMOUNT)


def test_resolve_share_above_100_percent_refused(chain, escrow, alice, bob, arbiter):
    order = _disputed(chain, escrow, alice, bob)
    chain.expect_revert(
        escrow.functions.resolve(order.id, 10_001), "share above 100%", sender=arbiter
    )


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "owner"])
def test_resolve_by_non_arbiter_refused(chain, escrow, alice, bob, carol, owner, who):
    order = _disputed(chain, escrow, alice, bob)
    sender = {"alice": alice, "bob": bob, "carol": carol, "owner": owner}[who]
    chain.expect_revert(escrow.functions.resolve(order.id, 5000), "not arbiter", sender=sender)


def test_resolve_not_disputed_refused(chain, escrow, alice, bob, arbiter):
    order = _native(chain, escrow, alice, bob)
    chain.expect_revert(escrow.functions.resolve(order.id, 5000), "not disputed", sender=arbiter)


def test_resolve_twice_refused(chain, escrow, alice, bob, arbiter):
    order = _disputed(chain, escrow, alice, bob)
    chain.transact(escrow.functions.resolve(order.id, 5000), sender=arbiter)
    chain.expect_revert(escrow.functions.resolve(order.id, 5000), "not disputed", sender=arbiter)


def test_resolve_token_order(chain, escrow, token, alice, bob, arbiter):
    # given a disputed token order
    order = deposit(chain, escrow, depositor=alice, seller=bob.address, token=token)
    chain.transact(escrow.functions.dispute(order.id), sender=bob)
    alice_before = token.functions.balanceOf(alice.address).call()
    # when
    chain.transact(escrow.functions.resolve(order.id, 3000), sender=arbiter)
    # then
    assert token.functions.balanceOf(alice.address).call() == alice_before + AMOUNT * 3 // 10
    assert token.functions.balanceOf(bob.address).call() == AMOUNT - AMOUNT * 3 // 10
    assert token.functions.balanceOf(escrow.address).call() == 0


# ------------------------------------------------- undeliverable payouts


@pytest.fixture
def wallet(chain, owner) -> Contract:
    """A contract wallet that can refuse coin (test/EscrowParty)."""
    return chain.deploy("test/EscrowParty", sender=owner)


def test_release_to_seller_rejecting_coin_credits_it_and_pays_treasury(
    chain, escrow, alice, owner, carol, wallet
):
    # given a seller contract that rejects coin
    order = deposit(chain, escrow, depositor=alice, seller=wallet.address)
    chain.transact(wallet.functions.set_reject(True), sender=owner)
    treasury_before = chain.balance(TREASURY)
    # when
    receipt = chain.transact(escrow.functions.release(order.id), sender=alice)
    # then the release goes through: the seller's part is credited, the fee paid
    assert escrow.functions.getOrder(order.id).call()[6] == RELEASED
    assert escrow.functions.credits(ZERO_ADDRESS, wallet.address).call() == AMOUNT - FEE
    assert chain.balance(TREASURY) == treasury_before + FEE
    assert chain.balance(escrow.address) == AMOUNT - FEE
    assert events(escrow, receipt, "EscrowCredited") == [
        {"account": wallet.address, "token": ZERO_ADDRESS, "amount": AMOUNT - FEE}
    ]
    # and the seller takes its credit to an address of its choice
    carol_before = chain.balance(carol.address)
    data = escrow.encode_abi("withdraw", args=[ZERO_ADDRESS, carol.address])
    receipt = chain.transact(wallet.functions.execute(escrow.address, data), sender=owner)
    assert chain.balance(carol.address) == carol_before + AMOUNT - FEE
    assert chain.balance(escrow.address) == 0
    assert escrow.functions.credits(ZERO_ADDRESS, wallet.address).call() == 0
    assert events(escrow, receipt, "EscrowWithdrawn") == [
        {
            "account": wallet.address,
            "token": ZERO_ADDRESS,
            "to": carol.address,
            "amount": AMOUNT - FEE,
        }
    ]


def test_refund_to_buyer_rejecting_coin_credits_it(chain, escrow, owner, bob, wallet):
    # given a buyer contract that paid, then started rejecting coin
    ref = ref_of(1)
    release_at = chain.now() + 3600
    data = escrow.encode_abi(
        "deposit", args=[ref, ZERO_ADDRESS, wallet.address, bob.address, AMOUNT, FEE, release_at]
    )
    chain.transact(wallet.functions.execute(escrow.address, data), sender=owner, value=AMOUNT)
    order_id = escrow.functions.orderId(wallet.address, ref).call()
    chain.transact(wallet.functions.set_reject(True), sender=owner)
    # when
    chain.transact(escrow.functions.refund(order_id), sender=bob)
    # then
    assert escrow.functions.getOrder(order_id).call()[6] == REFUNDED
    assert escrow.functions.credits(ZERO_ADDRESS, wallet.address).call() == AMOUNT


def test_withdraw_nothing_refused(chain, escrow, carol):
    chain.expect_revert(
        escrow.functions.withdraw(ZERO_ADDRESS, carol.address), "nothing to withdraw", sender=carol
    )


def test_withdraw_to_zero_address_refused(chain, escrow, carol):
    chain.expect_revert(
        escrow.functions.withdraw(ZERO_ADDRESS, ZERO_ADDRESS), "zero recipient", sender=carol
    )


def test_withdraw_to_rejecting_address_refused_and_credit_kept(chain, escrow, alice, owner, wallet):
    # given a credit
    order = deposit(chain, escrow, depositor=alice, seller=wallet.address)
    chain.transact(wallet.functions.set_reject(True), sender=owner)
    chain.transact(escrow.functions.release(order.id), sender=alice)
    # when it withdraws to itself while rejecting coin
    data = escrow.encode_abi("withdraw", args=[ZERO_ADDRESS, wallet.address])
    chain.expect_revert(
        wallet.functions.execute(escrow.address, data), "transfer failed", sender=owner
    )
    # then the credit is still there
    assert escrow.functions.credits(ZERO_ADDRESS, wallet.address).call() == AMOUNT - FEE


# ------------------------------------------------------------ reentrancy


@pytest.mark.parametrize("reentry", ["release", "refund", "resolve_other", "withdraw"])
def test_reentrant_seller_cannot_act_during_a_payout(
    chain, escrow, alice, owner, wallet, arbiter, reentry
):
    # given the seller wallet replays a call into the escrow when it receives coin
    order = deposit(chain, escrow, depositor=alice, seller=wallet.address, seed=1)
    other = deposit(chain, escrow, depositor=alice, seller=wallet.address, seed=2)
    hook = {
        "release": escrow.encode_abi("release", args=[order.id]),
        "refund": escrow.encode_abi("refund", args=[other.id]),
        "resolve_other": escrow.encode_abi("resolve", args=[other.id, 0]),
        "withdraw": escrow.encode_abi("withdraw", args=[ZERO_ADDRESS, wallet.address]),
    }[reentry]
    chain.transact(wallet.functions.set_hook(escrow.address, hook), sender=owner)
    # when the buyer releases the first order
    chain.transact(escrow.functions.release(order.id), sender=alice)
    # then the payout arrived, the reentrant call was attempted and failed
    assert wallet.functions.received().call() == AMOUNT - FEE
    assert wallet.functions.hook_attempts().call() == 1
    assert wallet.functions.hook_successes().call() == 0
    assert escrow.functions.getOrder(other.id).call()[6] == FUNDED
    assert chain.balance(escrow.address) == AMOUNT


def test_reentrant_token_cannot_act_during_deposit(chain, escrow, alice, bob, owner):
    # given a token whose transferFrom calls back into the escrow
    tok = chain.deploy("test/HookToken", sender=owner)
    chain.transact(tok.functions.mint(alice.address, 2 * AMOUNT), sender=owner)
    chain.transact(tok.functions.approve(escrow.address, 2 * AMOUNT), sender=alice)
    first = deposit(chain, escrow, depositor=alice, seller=bob.address, token=tok, seed=1)
    chain.transact(
        tok.functions.set_hook(escrow.address, escrow.encode_abi("release", args=[first.id])),
        sender=owner,
    )
    # when a second deposit runs the hook
    deposit(chain, escrow, depositor=alice, seller=bob.address, token=tok, seed=2)
    # then the reentrant release failed
    assert tok.functions.hook_attempts().call() == 1
    assert tok.functions.hook_successes().call() == 0
    assert escrow.functions.getOrder(first.id).call()[6] == FUNDED
