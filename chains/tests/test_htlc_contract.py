"""Behaviour of chains/contracts/HTLC.vy: every path and every revert.

Each test runs twice through the ``chain`` fixture: on eth-tester (in-process
py-evm) and on a real anvil node over JSON-RPC, with locally signed
transactions in both cases.
"""

from __future__ import annotations

from eth_utils import keccak
from web3.contract import Contract
from web3.logs import DISCARD

from chains.compiler import runtime_code_hash

from .conftest import (
    STATE_LOCKED,
    STATE_NONE,
    STATE_REDEEMED,
    STATE_REFUNDED,
    TOKEN_SUPPLY,
    ZERO_ADDRESS,
    Chain,
    expected_lock_id,
    lock_erc20,
    lock_native,
    make_secret,
)

AMOUNT = 10**18


def _balances(chain: Chain, *addresses: str) -> list[int]:
    return [chain.balance(a) for a in addresses]


# ------------------------------------------------------------ deployment


def test_init_deployer_is_owner_and_not_paused(chain, htlc, owner):
    # given a freshly deployed HTLC (fixture)
    # when / then
    assert htlc.functions.owner().call() == owner.address
    assert htlc.functions.pendingOwner().call() == ZERO_ADDRESS
    assert htlc.functions.paused().call() is False


def test_init_deployed_code_matches_compiled_runtime_hash(chain, htlc):
    # given a deployed HTLC
    # when
    onchain = keccak(bytes(chain.w3.eth.get_code(htlc.address)))
    # then the tree's source compiles to exactly what is on chain
    assert onchain == runtime_code_hash("HTLC")


def test_getLock_unknown_id_returns_all_zero(chain, htlc):
    # given no lock
    # when
    result = htlc.functions.getLock(b"\x42" * 32).call()
    # then
    assert tuple(result) == (
        ZERO_ADDRESS,
        ZERO_ADDRESS,
        ZERO_ADDRESS,
        0,
        b"\x00" * 32,
        0,
        STATE_NONE,
    )


# --------------------------------------------------------------- lock()


def test_lock_native_stores_lock_moves_coin_and_emits_event(chain, htlc, alice, bob):
    # given
    alice_before, htlc_before = _balances(chain, alice.address, htlc.address)
    # when
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, amount=AMOUNT)
    # then getLock returns the exact tuple
    assert tuple(htlc.functions.getLock(lk.id).call()) == lk.as_tuple(STATE_LOCKED)
    # and the coin moved from alice (plus her gas) into the contract
    assert chain.balance(htlc.address) == htlc_before + AMOUNT
    assert chain.balance(alice.address) == alice_before - AMOUNT - chain.gas_cost(lk.receipt)
    # and the event carries the exact fields
    (event,) = htlc.events.Locked().process_receipt(lk.receipt, errors=DISCARD)
    assert dict(event.args) == {
        "id": lk.id,
        "token": ZERO_ADDRESS,
        "sender": alice.address,
        "recipient": bob.address,
        "amount": AMOUNT,
        "hashlock": lk.hashlock,
        "timelock": lk.timelock,
    }


def test_lock_id_equals_documented_formula(chain, htlc, alice, bob):
    # given the parameters of a lock, known before anything is sent
    _, hashlock = make_secret(7)
    timelock = chain.now() + 600
    predicted = expected_lock_id(
        chain_id=chain.chain_id,
        htlc=htlc.address,
        token=ZERO_ADDRESS,
        sender=alice.address,
        recipient=bob.address,
        amount=AMOUNT,
        hashlock=hashlock,
        timelock=timelock,
    )
    # when
    receipt = chain.transact(
        htlc.functions.lock(bob.address, hashlock, timelock), sender=alice, value=AMOUNT
    )
    # then
    (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert event.args.id == predicted
    assert htlc.functions.getLock(predicted).call()[6] == STATE_LOCKED


def test_lock_id_is_indexed_with_sender_and_recipient(chain, htlc, alice, bob):
    # given / when
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    # then the three indexed topics are id, sender, recipient (filterable by wallets)
    (log,) = lk.receipt["logs"]
    assert bytes(log["topics"][1]) == lk.id
    assert bytes(log["topics"][2])[-20:] == bytes.fromhex(alice.address[2:])
    assert bytes(log["topics"][3])[-20:] == bytes.fromhex(bob.address[2:])


def test_lock_zero_amount_refused(chain, htlc, alice, bob):
    # given
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lock(bob.address, hashlock, chain.now() + 600), "zero amount", sender=alice
    )


def test_lock_zero_recipient_refused(chain, htlc, alice):
    # given
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lock(ZERO_ADDRESS, hashlock, chain.now() + 600),
        "zero recipient",
        sender=alice,
        value=AMOUNT,
    )


def test_lock_timelock_equal_to_block_time_refused(chain, htlc, alice, bob):
    # given the next block is at exactly T
    _, hashlock = make_secret(1)
    t = chain.now() + 100
    chain.set_next_timestamp(t)
    # when / then a timelock of T is not strictly in the future
    chain.expect_revert(
        htlc.functions.lock(bob.address, hashlock, t),
        "timelock in past",
        sender=alice,
        value=AMOUNT,
    )


def test_lock_timelock_in_past_refused(chain, htlc, alice, bob):
    # given
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lock(bob.address, hashlock, chain.now() - 1),
        "timelock in past",
        sender=alice,
        value=AMOUNT,
    )


def test_lock_timelock_one_second_ahead_accepted(chain, htlc, alice, bob):
    # given the next block is at exactly T
    _, hashlock = make_secret(1)
    t = chain.now() + 100
    chain.set_next_timestamp(t)
    # when
    receipt = chain.transact(
        htlc.functions.lock(bob.address, hashlock, t + 1), sender=alice, value=AMOUNT
    )
    # then
    assert chain.block_time(receipt) == t
    (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert event.args.timelock == t + 1


def test_lock_duplicate_id_refused(chain, htlc, alice, bob):
    # given an existing lock
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    # when / then the same parameters from the same sender give the same id
    chain.expect_revert(
        htlc.functions.lock(bob.address, lk.hashlock, lk.timelock),
        "lock exists",
        sender=alice,
        value=lk.amount,
    )


def test_lock_duplicate_of_finished_lock_refused(chain, htlc, alice, bob, carol):
    # given a lock that was redeemed (its preimage is now public)
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=carol)
    # when / then it cannot be re-armed with the same parameters
    chain.expect_revert(
        htlc.functions.lock(bob.address, lk.hashlock, lk.timelock),
        "lock exists",
        sender=alice,
        value=lk.amount,
    )


def test_lock_same_parameters_other_sender_gets_distinct_id(chain, htlc, alice, bob, carol):
    # given alice's lock
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    # when carol locks with identical parameters
    receipt = chain.transact(
        htlc.functions.lock(bob.address, lk.hashlock, lk.timelock), sender=carol, value=lk.amount
    )
    # then it is a different lock, owned by carol
    (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert event.args.id != lk.id
    assert htlc.functions.getLock(event.args.id).call()[1] == carol.address


def test_lock_paused_refused(chain, htlc, owner, alice, bob):
    # given
    chain.transact(htlc.functions.pause(), sender=owner)
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lock(bob.address, hashlock, chain.now() + 600),
        "paused",
        sender=alice,
        value=AMOUNT,
    )


# ---------------------------------------------------------- lockToken()


def test_lockToken_stores_lock_pulls_tokens_and_emits_event(chain, htlc, token, alice, bob):
    # given alice holds TOKEN_SUPPLY and approved the HTLC (fixture)
    # when
    lk = lock_erc20(chain, htlc, token, sender=alice, recipient=bob.address, amount=AMOUNT)
    # then
    assert tuple(htlc.functions.getLock(lk.id).call()) == lk.as_tuple(STATE_LOCKED)
    assert token.functions.balanceOf(htlc.address).call() == AMOUNT
    assert token.functions.balanceOf(alice.address).call() == TOKEN_SUPPLY - AMOUNT
    assert token.functions.allowance(alice.address, htlc.address).call() == TOKEN_SUPPLY - AMOUNT
    (event,) = htlc.events.Locked().process_receipt(lk.receipt, errors=DISCARD)
    assert dict(event.args) == {
        "id": lk.id,
        "token": token.address,
        "sender": alice.address,
        "recipient": bob.address,
        "amount": AMOUNT,
        "hashlock": lk.hashlock,
        "timelock": lk.timelock,
    }
    assert lk.id == expected_lock_id(
        chain_id=chain.chain_id,
        htlc=htlc.address,
        token=token.address,
        sender=alice.address,
        recipient=bob.address,
        amount=AMOUNT,
        hashlock=lk.hashlock,
        timelock=lk.timelock,
    )


def test_lockToken_zero_amount_refused(chain, htlc, token, alice, bob):
    _, hashlock = make_secret(1)
    chain.expect_revert(
        htlc.functions.lockToken(token.address, bob.address, 0, hashlock, chain.now() + 600),
        "zero amount",
        sender=alice,
    )


def test_lockToken_zero_recipient_refused(chain, htlc, token, alice):
    _, hashlock = make_secret(1)
    chain.expect_revert(
        htlc.functions.lockToken(token.address, ZERO_ADDRESS, AMOUNT, hashlock, chain.now() + 600),
        "zero recipient",
        sender=alice,
    )


def test_lockToken_timelock_in_past_refused(chain, htlc, token, alice, bob):
    _, hashlock = make_secret(1)
    chain.expect_revert(
        htlc.functions.lockToken(token.address, bob.address, AMOUNT, hashlock, chain.now()),
        "timelock in past",
        sender=alice,
    )


def test_lockToken_duplicate_id_refused(chain, htlc, token, alice, bob):
    # given
    lk = lock_erc20(chain, htlc, token, sender=alice, recipient=bob.address)
    # when / then
    chain.expect_revert(
        htlc.functions.lockToken(token.address, bob.address, lk.amount, lk.hashlock, lk.timelock),
        "lock exists",
        sender=alice,
    )


def test_lockToken_paused_refused(chain, htlc, token, owner, alice, bob):
    # given
    chain.transact(htlc.functions.pause(), sender=owner)
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lockToken(token.address, bob.address, AMOUNT, hashlock, chain.now() + 600),
        "paused",
        sender=alice,
    )


def test_lockToken_without_allowance_refused(chain, htlc, token, alice, bob):
    # given alice revoked her approval
    chain.transact(token.functions.approve(htlc.address, 0), sender=alice)
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lockToken(token.address, bob.address, AMOUNT, hashlock, chain.now() + 600),
        "transfer failed",
        sender=alice,
    )


def test_lockToken_insufficient_balance_refused(chain, htlc, token, alice, bob):
    _, hashlock = make_secret(1)
    chain.expect_revert(
        htlc.functions.lockToken(
            token.address, bob.address, TOKEN_SUPPLY + 1, hashlock, chain.now() + 600
        ),
        "transfer failed",
        sender=alice,
    )


def test_lockToken_non_contract_token_refused(chain, htlc, alice, bob, carol):
    # given an EOA posing as a token (a raw call to it would "succeed")
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lockToken(carol.address, bob.address, AMOUNT, hashlock, chain.now() + 600),
        "not a token",
        sender=alice,
    )


def test_lockToken_with_native_value_refused(chain, htlc, token, alice, bob):
    # given lockToken is non-payable; build raw call data since web3 refuses client-side
    _, hashlock = make_secret(1)
    data = htlc.encode_abi(
        "lockToken", [token.address, bob.address, AMOUNT, hashlock, chain.now() + 600]
    )
    # when / then the EVM-level payable check reverts without a reason
    chain.expect_revert({"to": htlc.address, "data": data}, None, sender=alice, value=1)
    assert chain.balance(htlc.address) == 0


def test_lockToken_fee_on_transfer_token_refused(chain, htlc, owner, alice, bob):
    # given a token that burns 1% on transfer
    fot = chain.deploy("test/FeeOnTransferToken", sender=owner)
    chain.transact(fot.functions.mint(alice.address, 10 * AMOUNT), sender=owner)
    chain.transact(fot.functions.approve(htlc.address, 10 * AMOUNT), sender=alice)
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lockToken(fot.address, bob.address, AMOUNT, hashlock, chain.now() + 600),
        "fee-on-transfer",
        sender=alice,
    )
    assert fot.functions.balanceOf(htlc.address).call() == 0


def test_lockToken_no_return_token_lock_redeem_and_refund_work(
    chain, htlc, owner, alice, bob, carol
):
    # given a USDT-style token whose transfer functions return nothing
    usdt = chain.deploy("test/NoReturnToken", sender=owner)
    chain.transact(usdt.functions.mint(alice.address, 10 * AMOUNT), sender=owner)
    chain.transact(usdt.functions.approve(htlc.address, 10 * AMOUNT), sender=alice)
    # when one lock is redeemed and another refunded
    redeemed = lock_erc20(chain, htlc, usdt, sender=alice, recipient=bob.address, seed=1)
    refunded = lock_erc20(chain, htlc, usdt, sender=alice, recipient=bob.address, seed=2, ttl=60)
    assert usdt.functions.balanceOf(htlc.address).call() == 2 * AMOUNT
    chain.transact(htlc.functions.redeem(redeemed.id, redeemed.preimage), sender=carol)
    chain.advance(61)
    chain.transact(htlc.functions.refund(refunded.id), sender=carol)
    # then
    assert usdt.functions.balanceOf(bob.address).call() == AMOUNT
    assert usdt.functions.balanceOf(alice.address).call() == 9 * AMOUNT
    assert usdt.functions.balanceOf(htlc.address).call() == 0
    assert htlc.functions.getLock(redeemed.id).call()[6] == STATE_REDEEMED
    assert htlc.functions.getLock(refunded.id).call()[6] == STATE_REFUNDED


def test_lockToken_false_returning_token_refused(chain, htlc, owner, alice, bob):
    # given a token that returns false instead of reverting
    bad = chain.deploy("test/FalseReturnToken", sender=owner)
    chain.transact(bad.functions.mint(alice.address, AMOUNT), sender=owner)
    chain.transact(bad.functions.approve(htlc.address, AMOUNT), sender=alice)
    chain.transact(bad.functions.set_fail(True), sender=owner)
    _, hashlock = make_secret(1)
    # when / then
    chain.expect_revert(
        htlc.functions.lockToken(bad.address, bob.address, AMOUNT, hashlock, chain.now() + 600),
        "transfer failed",
        sender=alice,
    )


def test_redeem_false_returning_token_reverts_and_keeps_lock(chain, htlc, owner, alice, bob, carol):
    # given a token lock whose token starts returning false afterwards
    bad = chain.deploy("test/FalseReturnToken", sender=owner)
    chain.transact(bad.functions.mint(alice.address, AMOUNT), sender=owner)
    chain.transact(bad.functions.approve(htlc.address, AMOUNT), sender=alice)
    lk = lock_erc20(chain, htlc, bad, sender=alice, recipient=bob.address)
    chain.transact(bad.functions.set_fail(True), sender=owner)
    # when / then the payout failure is not swallowed
    chain.expect_revert(htlc.functions.redeem(lk.id, lk.preimage), "transfer failed", sender=carol)
    assert htlc.functions.getLock(lk.id).call()[6] == STATE_LOCKED
    assert bad.functions.balanceOf(htlc.address).call() == AMOUNT


# -------------------------------------------------------------- redeem()


def test_redeem_native_by_third_party_pays_recipient_exactly(chain, htlc, alice, bob, carol):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, amount=AMOUNT)
    alice_before, bob_before, carol_before = _balances(
        chain, alice.address, bob.address, carol.address
    )
    # when carol (a relayer) sends the redeem
    receipt = chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=carol)
    # then bob gets exactly the amount, carol only paid gas, alice is untouched
    assert chain.balance(bob.address) == bob_before + AMOUNT
    assert chain.balance(carol.address) == carol_before - chain.gas_cost(receipt)
    assert chain.balance(alice.address) == alice_before
    assert chain.balance(htlc.address) == 0
    assert tuple(htlc.functions.getLock(lk.id).call()) == lk.as_tuple(STATE_REDEEMED)
    (event,) = htlc.events.Redeemed().process_receipt(receipt, errors=DISCARD)
    assert dict(event.args) == {"id": lk.id, "preimage": lk.preimage}


def test_redeem_native_by_recipient_pays_recipient(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, amount=AMOUNT)
    bob_before = chain.balance(bob.address)
    # when
    receipt = chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=bob)
    # then
    assert chain.balance(bob.address) == bob_before + AMOUNT - chain.gas_cost(receipt)


def test_redeem_token_by_third_party_pays_recipient_exactly(chain, htlc, token, alice, bob, carol):
    # given
    lk = lock_erc20(chain, htlc, token, sender=alice, recipient=bob.address, amount=AMOUNT)
    # when
    receipt = chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=carol)
    # then
    assert token.functions.balanceOf(bob.address).call() == AMOUNT
    assert token.functions.balanceOf(carol.address).call() == 0
    assert token.functions.balanceOf(alice.address).call() == TOKEN_SUPPLY - AMOUNT
    assert token.functions.balanceOf(htlc.address).call() == 0
    assert tuple(htlc.functions.getLock(lk.id).call()) == lk.as_tuple(STATE_REDEEMED)
    (event,) = htlc.events.Redeemed().process_receipt(receipt, errors=DISCARD)
    assert dict(event.args) == {"id": lk.id, "preimage": lk.preimage}


def test_redeem_wrong_preimage_refused(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, seed=1)
    wrong_preimage, _ = make_secret(2)
    # when / then
    chain.expect_revert(htlc.functions.redeem(lk.id, wrong_preimage), "bad preimage", sender=bob)


def test_redeem_hashlock_itself_as_preimage_refused(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    # when / then
    chain.expect_revert(htlc.functions.redeem(lk.id, lk.hashlock), "bad preimage", sender=bob)


def test_redeem_keccak_hashlock_refused(chain, htlc, alice, bob):
    # given a lock whose hashlock is keccak256 (not sha256) of the secret
    secret, _ = make_secret(3)
    receipt = chain.transact(
        htlc.functions.lock(bob.address, keccak(secret), chain.now() + 600),
        sender=alice,
        value=AMOUNT,
    )
    (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
    # when / then only sha256 is accepted (BIP-199), so the secret does not open it
    chain.expect_revert(htlc.functions.redeem(event.args.id, secret), "bad preimage", sender=bob)


def test_redeem_wrong_preimage_mined_fails_on_chain_and_keeps_lock(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    wrong_preimage, _ = make_secret(99)
    # when the transaction skips estimation and is actually mined
    receipt = chain.transact(
        htlc.functions.redeem(lk.id, wrong_preimage), sender=bob, gas=200_000, check=False
    )
    # then
    assert receipt["status"] == 0
    assert htlc.functions.getLock(lk.id).call()[6] == STATE_LOCKED
    assert chain.balance(htlc.address) == lk.amount


def test_redeem_at_last_second_before_timelock_succeeds(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.set_next_timestamp(lk.timelock - 1)
    # when
    receipt = chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=bob)
    # then
    assert chain.block_time(receipt) == lk.timelock - 1
    assert htlc.functions.getLock(lk.id).call()[6] == STATE_REDEEMED


def test_redeem_at_timelock_refused_as_expired(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.set_next_timestamp(lk.timelock)
    # when / then
    chain.expect_revert(htlc.functions.redeem(lk.id, lk.preimage), "expired", sender=bob)


def test_redeem_after_expiry_refused(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.advance(3600)
    # when / then
    chain.expect_revert(htlc.functions.redeem(lk.id, lk.preimage), "expired", sender=bob)


def test_redeem_twice_refused(chain, htlc, alice, bob, carol):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=carol)
    # when / then
    chain.expect_revert(htlc.functions.redeem(lk.id, lk.preimage), "not locked", sender=carol)


def test_redeem_after_refund_refused(chain, htlc, alice, bob):
    # given a refunded lock
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.advance(100)
    chain.transact(htlc.functions.refund(lk.id), sender=alice)
    # when / then ("not locked" is checked before the time window)
    chain.expect_revert(htlc.functions.redeem(lk.id, lk.preimage), "not locked", sender=bob)


def test_redeem_unknown_id_refused(chain, htlc, bob):
    preimage, _ = make_secret(1)
    chain.expect_revert(htlc.functions.redeem(b"\x01" * 32, preimage), "not locked", sender=bob)


def test_redeem_when_paused_still_works(chain, htlc, owner, alice, bob, carol):
    # given a lock, then the owner pauses
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    chain.transact(htlc.functions.pause(), sender=owner)
    bob_before = chain.balance(bob.address)
    # when
    chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=carol)
    # then
    assert chain.balance(bob.address) == bob_before + lk.amount


def test_redeem_recipient_rejecting_coin_reverts_then_sender_refunds(
    chain, htlc, owner, alice, carol
):
    # given a lock whose recipient contract rejects native coin
    rejecter = chain.deploy("test/RejectEther", sender=owner)
    lk = lock_native(chain, htlc, sender=alice, recipient=rejecter.address, ttl=100)
    # when / then redeem cannot pay
    chain.expect_revert(htlc.functions.redeem(lk.id, lk.preimage), "transfer failed", sender=carol)
    assert htlc.functions.getLock(lk.id).call()[6] == STATE_LOCKED
    # and after the timelock the sender gets the coin back
    chain.advance(100)
    alice_before = chain.balance(alice.address)
    chain.transact(htlc.functions.refund(lk.id), sender=carol)
    assert chain.balance(alice.address) == alice_before + lk.amount
    assert chain.balance(rejecter.address) == 0


# -------------------------------------------------------------- refund()


def test_refund_native_by_third_party_pays_sender_exactly(chain, htlc, alice, bob, carol):
    # given an expired lock
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, amount=AMOUNT, ttl=100)
    chain.advance(100)
    alice_before, bob_before, carol_before = _balances(
        chain, alice.address, bob.address, carol.address
    )
    # when carol sends the refund
    receipt = chain.transact(htlc.functions.refund(lk.id), sender=carol)
    # then alice gets exactly the amount back
    assert chain.balance(alice.address) == alice_before + AMOUNT
    assert chain.balance(bob.address) == bob_before
    assert chain.balance(carol.address) == carol_before - chain.gas_cost(receipt)
    assert chain.balance(htlc.address) == 0
    assert tuple(htlc.functions.getLock(lk.id).call()) == lk.as_tuple(STATE_REFUNDED)
    (event,) = htlc.events.Refunded().process_receipt(receipt, errors=DISCARD)
    assert dict(event.args) == {"id": lk.id}


def test_refund_native_by_sender_pays_sender(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.advance(100)
    alice_before = chain.balance(alice.address)
    # when
    receipt = chain.transact(htlc.functions.refund(lk.id), sender=alice)
    # then
    assert chain.balance(alice.address) == alice_before + lk.amount - chain.gas_cost(receipt)


def test_refund_token_by_third_party_pays_sender_exactly(chain, htlc, token, alice, bob, carol):
    # given
    lk = lock_erc20(chain, htlc, token, sender=alice, recipient=bob.address, ttl=100)
    chain.advance(100)
    # when
    receipt = chain.transact(htlc.functions.refund(lk.id), sender=carol)
    # then
    assert token.functions.balanceOf(alice.address).call() == TOKEN_SUPPLY
    assert token.functions.balanceOf(bob.address).call() == 0
    assert token.functions.balanceOf(carol.address).call() == 0
    assert token.functions.balanceOf(htlc.address).call() == 0
    assert tuple(htlc.functions.getLock(lk.id).call()) == lk.as_tuple(STATE_REFUNDED)
    (event,) = htlc.events.Refunded().process_receipt(receipt, errors=DISCARD)
    assert dict(event.args) == {"id": lk.id}


def test_refund_one_second_before_timelock_refused(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.set_next_timestamp(lk.timelock - 1)
    # when / then
    chain.expect_revert(htlc.functions.refund(lk.id), "not expired", sender=alice)


def test_refund_right_after_lock_refused(chain, htlc, alice, bob):
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    chain.expect_revert(htlc.functions.refund(lk.id), "not expired", sender=alice)


def test_refund_at_exactly_timelock_succeeds(chain, htlc, alice, bob, carol):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.set_next_timestamp(lk.timelock)
    # when
    receipt = chain.transact(htlc.functions.refund(lk.id), sender=carol)
    # then
    assert chain.block_time(receipt) == lk.timelock
    assert htlc.functions.getLock(lk.id).call()[6] == STATE_REFUNDED


def test_refund_twice_refused(chain, htlc, alice, bob):
    # given
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.advance(100)
    chain.transact(htlc.functions.refund(lk.id), sender=alice)
    # when / then
    chain.expect_revert(htlc.functions.refund(lk.id), "not locked", sender=alice)


def test_refund_after_redeem_refused(chain, htlc, alice, bob):
    # given a lock redeemed in time
    lk = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=bob)
    chain.advance(100)
    # when / then
    chain.expect_revert(htlc.functions.refund(lk.id), "not locked", sender=alice)


def test_refund_unknown_id_refused(chain, htlc, alice):
    chain.expect_revert(htlc.functions.refund(b"\x01" * 32), "not locked", sender=alice)


def test_refund_when_paused_still_works(chain, htlc, token, owner, alice, bob, carol):
    # given a native and a token lock, expired, and the contract paused
    native = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100)
    erc20 = lock_erc20(chain, htlc, token, sender=alice, recipient=bob.address, ttl=100)
    chain.transact(htlc.functions.pause(), sender=owner)
    chain.advance(100)
    alice_before = chain.balance(alice.address)
    # when
    chain.transact(htlc.functions.refund(native.id), sender=carol)
    chain.transact(htlc.functions.refund(erc20.id), sender=carol)
    # then
    assert chain.balance(alice.address) == alice_before + native.amount
    assert token.functions.balanceOf(alice.address).call() == TOKEN_SUPPLY


def test_refund_sender_receives_exactly_its_own_lock_among_many(chain, htlc, alice, bob, carol):
    # given several locks from different senders, with different amounts
    a = lock_native(chain, htlc, sender=alice, recipient=bob.address, amount=3, ttl=100, seed=1)
    c = lock_native(chain, htlc, sender=carol, recipient=bob.address, amount=5, ttl=100, seed=2)
    chain.advance(100)
    alice_before = chain.balance(alice.address)
    # when
    chain.transact(htlc.functions.refund(a.id), sender=bob)
    # then only alice's 3 wei left the contract
    assert chain.balance(alice.address) == alice_before + 3
    assert chain.balance(htlc.address) == 5
    assert htlc.functions.getLock(c.id).call()[6] == STATE_LOCKED


# ------------------------------------------------------ pause / ownership


def test_pause_blocks_new_locks_and_unpause_restores_them(chain, htlc, token, owner, alice, bob):
    # given
    receipt = chain.transact(htlc.functions.pause(), sender=owner)
    (event,) = htlc.events.Paused().process_receipt(receipt, errors=DISCARD)
    assert event.args.account == owner.address
    assert htlc.functions.paused().call() is True
    # when
    receipt = chain.transact(htlc.functions.unpause(), sender=owner)
    # then
    (event,) = htlc.events.Unpaused().process_receipt(receipt, errors=DISCARD)
    assert event.args.account == owner.address
    assert htlc.functions.paused().call() is False
    lock_native(chain, htlc, sender=alice, recipient=bob.address)
    lock_erc20(chain, htlc, token, sender=alice, recipient=bob.address)


def test_pause_non_owner_refused(chain, htlc, mallory):
    chain.expect_revert(htlc.functions.pause(), "not owner", sender=mallory)
    assert htlc.functions.paused().call() is False


def test_pause_twice_refused(chain, htlc, owner):
    chain.transact(htlc.functions.pause(), sender=owner)
    chain.expect_revert(htlc.functions.pause(), "already paused", sender=owner)


def test_unpause_non_owner_refused(chain, htlc, owner, mallory):
    chain.transact(htlc.functions.pause(), sender=owner)
    chain.expect_revert(htlc.functions.unpause(), "not owner", sender=mallory)
    assert htlc.functions.paused().call() is True


def test_unpause_when_not_paused_refused(chain, htlc, owner):
    chain.expect_revert(htlc.functions.unpause(), "not paused", sender=owner)


def test_transferOwnership_two_step_hands_over_pause_right(chain, htlc, owner, carol):
    # given
    chain.transact(htlc.functions.transferOwnership(carol.address), sender=owner)
    assert htlc.functions.owner().call() == owner.address
    assert htlc.functions.pendingOwner().call() == carol.address
    # when
    receipt = chain.transact(htlc.functions.acceptOwnership(), sender=carol)
    # then
    (event,) = htlc.events.OwnershipTransferred().process_receipt(receipt, errors=DISCARD)
    assert (event.args.previous_owner, event.args.new_owner) == (owner.address, carol.address)
    assert htlc.functions.owner().call() == carol.address
    assert htlc.functions.pendingOwner().call() == ZERO_ADDRESS
    chain.expect_revert(htlc.functions.pause(), "not owner", sender=owner)
    chain.transact(htlc.functions.pause(), sender=carol)


def test_transferOwnership_non_owner_refused(chain, htlc, mallory):
    chain.expect_revert(
        htlc.functions.transferOwnership(mallory.address), "not owner", sender=mallory
    )


def test_acceptOwnership_by_other_than_pending_refused(chain, htlc, owner, carol, mallory):
    chain.transact(htlc.functions.transferOwnership(carol.address), sender=owner)
    chain.expect_revert(htlc.functions.acceptOwnership(), "not pending owner", sender=mallory)


def test_abi_has_no_path_to_move_locked_funds(chain, htlc):
    # given the public interface (guards against a sweep/withdraw/upgrade sneaking in)
    functions = {f["name"] for f in htlc.abi if f["type"] == "function"}
    # then
    assert functions == {
        "lock",
        "lockToken",
        "redeem",
        "refund",
        "getLock",
        "pause",
        "unpause",
        "transferOwnership",
        "acceptOwnership",
        "owner",
        "pendingOwner",
        "paused",
    }
    assert not any(f["type"] in ("fallback", "receive") for f in htlc.abi)


def test_plain_transfer_to_htlc_refused(chain, htlc, alice):
    # coin can only enter through lock(), so the balance always equals what is locked
    chain.expect_revert({"to": htlc.address, "data": b""}, None, sender=alice, value=1)


# ----------------------------------------------------------- reentrancy


def _attacker(chain: Chain, owner) -> Contract:
    return chain.deploy("test/ReentrantReceiver", sender=owner)


def test_redeem_reentrant_recipient_cannot_redeem_twice(chain, htlc, owner, alice, carol):
    # given a lock paying an attacker contract that re-calls redeem on receipt
    attacker = _attacker(chain, owner)
    lock_native(chain, htlc, sender=alice, recipient=attacker.address, amount=AMOUNT, seed=1)
    # a second lock to the attacker keeps coin in the contract to steal from
    lk = lock_native(chain, htlc, sender=alice, recipient=attacker.address, amount=AMOUNT, seed=2)
    hook = htlc.encode_abi("redeem", [lk.id, lk.preimage])
    chain.transact(attacker.functions.set_hook(htlc.address, hook), sender=owner)
    # when
    chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=carol)
    # then the reentrant call was attempted, failed, and the attacker was paid once
    assert attacker.functions.hook_attempts().call() == 1
    assert attacker.functions.hook_successes().call() == 0
    assert attacker.functions.received().call() == AMOUNT
    assert chain.balance(attacker.address) == AMOUNT
    assert chain.balance(htlc.address) == AMOUNT


def test_redeem_reentrant_recipient_blocked_from_other_valid_lock(chain, htlc, owner, alice, carol):
    # given two valid locks to the attacker; during the first payout it tries
    # to redeem the second (which would be legitimate on its own)
    attacker = _attacker(chain, owner)
    first = lock_native(chain, htlc, sender=alice, recipient=attacker.address, seed=1)
    second = lock_native(chain, htlc, sender=alice, recipient=attacker.address, seed=2)
    hook = htlc.encode_abi("redeem", [second.id, second.preimage])
    chain.transact(attacker.functions.set_hook(htlc.address, hook), sender=owner)
    # when
    chain.transact(htlc.functions.redeem(first.id, first.preimage), sender=carol)
    # then the nonreentrant guard stopped the nested call
    assert attacker.functions.hook_attempts().call() == 1
    assert attacker.functions.hook_successes().call() == 0
    assert htlc.functions.getLock(second.id).call()[6] == STATE_LOCKED
    # and the second lock still works normally afterwards
    chain.transact(attacker.functions.set_hook(ZERO_ADDRESS, b""), sender=owner)
    chain.transact(htlc.functions.redeem(second.id, second.preimage), sender=carol)
    assert chain.balance(attacker.address) == first.amount + second.amount


def test_refund_reentrant_sender_cannot_refund_twice(chain, htlc, owner, alice, bob, carol):
    # given an attacker contract that is the sender of a lock and re-calls refund
    attacker = _attacker(chain, owner)
    lock_native(chain, htlc, sender=alice, recipient=bob.address, amount=AMOUNT)  # bait
    preimage, hashlock = make_secret(5)
    timelock = chain.now() + 100
    lock_data = htlc.encode_abi("lock", [bob.address, hashlock, timelock])
    receipt = chain.transact(
        attacker.functions.execute(htlc.address, lock_data), sender=owner, value=AMOUNT
    )
    (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
    assert event.args.sender == attacker.address
    hook = htlc.encode_abi("refund", [event.args.id])
    chain.transact(attacker.functions.set_hook(htlc.address, hook), sender=owner)
    chain.advance(100)
    # when
    chain.transact(htlc.functions.refund(event.args.id), sender=carol)
    # then
    assert attacker.functions.hook_attempts().call() == 1
    assert attacker.functions.hook_successes().call() == 0
    assert chain.balance(attacker.address) == AMOUNT
    assert chain.balance(htlc.address) == AMOUNT


def test_lockToken_reentrant_token_cannot_redeem_during_transfer(
    chain, htlc, owner, alice, bob, carol
):
    # given a native lock, and a token that tries to redeem it from inside transferFrom
    target = lock_native(chain, htlc, sender=alice, recipient=bob.address)
    hook_token = chain.deploy("test/HookToken", sender=owner)
    chain.transact(hook_token.functions.mint(carol.address, AMOUNT), sender=owner)
    chain.transact(hook_token.functions.approve(htlc.address, AMOUNT), sender=carol)
    hook = htlc.encode_abi("redeem", [target.id, target.preimage])
    chain.transact(hook_token.functions.set_hook(htlc.address, hook), sender=owner)
    # when
    lk = lock_erc20(chain, htlc, hook_token, sender=carol, recipient=alice.address)
    # then the lock itself succeeded but the nested redeem was blocked
    assert hook_token.functions.hook_attempts().call() == 1
    assert hook_token.functions.hook_successes().call() == 0
    assert htlc.functions.getLock(target.id).call()[6] == STATE_LOCKED
    assert htlc.functions.getLock(lk.id).call()[6] == STATE_LOCKED
    assert hook_token.functions.balanceOf(htlc.address).call() == AMOUNT


def test_redeem_reentrant_token_cannot_reenter_on_payout(chain, htlc, owner, alice, bob, carol):
    # given a token lock whose token tries to refund another lock during the payout
    other = lock_native(chain, htlc, sender=alice, recipient=bob.address, ttl=100, seed=9)
    hook_token = chain.deploy("test/HookToken", sender=owner)
    chain.transact(hook_token.functions.mint(alice.address, AMOUNT), sender=owner)
    chain.transact(hook_token.functions.approve(htlc.address, AMOUNT), sender=alice)
    lk = lock_erc20(chain, htlc, hook_token, sender=alice, recipient=bob.address, ttl=10_000)
    chain.advance(100)  # `other` is now refundable, `lk` still redeemable
    hook = htlc.encode_abi("refund", [other.id])
    chain.transact(hook_token.functions.set_hook(htlc.address, hook), sender=owner)
    # when
    chain.transact(htlc.functions.redeem(lk.id, lk.preimage), sender=carol)
    # then
    assert hook_token.functions.hook_attempts().call() == 1
    assert hook_token.functions.hook_successes().call() == 0
    assert hook_token.functions.balanceOf(bob.address).call() == AMOUNT
    assert htlc.functions.getLock(other.id).call()[6] == STATE_LOCKED
