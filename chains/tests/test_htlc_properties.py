"""Property test: arbitrary interleavings of lock / redeem / refund / waiting.

A plain-Python model predicts, for every step, whether the HTLC must accept
or refuse it (and with which reason) at the exact block time the step runs,
and the resulting balance of every account. Invariants checked after every
step: each lock pays out at most once, the contract's balance equals the sum
of the amounts still locked, getLock agrees with the model, and every
account's balance is exactly what the model (including gas) expects.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from web3.logs import DISCARD

from .conftest import STATE_LOCKED, STATE_REDEEMED, STATE_REFUNDED, EthTesterChain, make_secret


@dataclass
class ModelLock:
    id: bytes
    sender: str
    recipient: str
    amount: int
    timelock: int
    preimage: bytes
    state: int = STATE_LOCKED
    payouts: int = 0


lock_step = st.tuples(
    st.just("lock"),
    st.integers(0, 1),  # sender index
    st.integers(0, 1),  # recipient index
    st.integers(1, 10**18),  # amount
    st.integers(1, 300),  # ttl
)
redeem_step = st.tuples(st.just("redeem"), st.integers(0, 7), st.booleans())
refund_step = st.tuples(st.just("refund"), st.integers(0, 7))
wait_step = st.tuples(st.just("wait"), st.integers(0, 400))
steps = st.lists(st.one_of(lock_step, redeem_step, refund_step, wait_step), max_size=10)


@settings(
    max_examples=25,
    deadline=None,
    database=None,  # no example database: every run starts from the same explicit cases
    # Each example drives a real EVM, so shrinking takes minutes; ten steps
    # unshrunk are still readable in the failure report.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=steps)
# Fixed cases so every run covers both payouts and the double-spend attempts,
# whatever the random generation draws.
@example(
    steps=[
        ("lock", 0, 0, 5, 10),
        ("redeem", 0, False),
        ("redeem", 0, True),
        ("redeem", 0, True),
        ("wait", 20),
        ("refund", 0),
    ]
)
@example(
    steps=[
        ("lock", 1, 1, 7, 10),
        ("lock", 0, 1, 3, 50),
        ("refund", 0),
        ("wait", 10),
        ("redeem", 0, True),
        ("refund", 0),
        ("refund", 0),
        ("wait", 100),
        ("redeem", 1, True),
        ("refund", 1),
    ]
)
def test_lock_redeem_refund_any_sequence_pays_at_most_once(tester_chain: EthTesterChain, steps):
    # given a fresh HTLC; senders and a relayer send transactions, recipients stay passive
    chain = tester_chain
    tester = chain.w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    try:
        _run(chain, steps)
    finally:
        tester.revert_to_snapshot(snapshot)


def _run(chain: EthTesterChain, steps) -> None:
    deployer, s0, s1, r0, r1, relayer = chain.accounts[:6]
    senders, recipients = [s0, s1], [r0.address, r1.address]
    htlc = chain.deploy("HTLC", sender=deployer)
    tracked = [s0.address, s1.address, r0.address, r1.address, relayer.address]
    expected = {a: chain.balance(a) for a in tracked}
    locks: list[ModelLock] = []
    seed = 0
    wait = 0

    for step in steps:
        kind = step[0]
        if kind == "wait":
            wait += step[1]
            continue
        # when: pin the exact time this step executes at
        t = max(chain.now() + 1 + wait, chain.w3.eth.get_block("pending")["timestamp"])
        chain.set_next_timestamp(t)
        wait = 0

        if kind == "lock":
            _, si, ri, amount, ttl = step
            seed += 1
            preimage, hashlock = make_secret(seed)
            sender, recipient = senders[si], recipients[ri]
            call = htlc.functions.lock(recipient, hashlock, t + ttl)
            receipt = chain.transact(call, sender=sender, value=amount)
            (event,) = htlc.events.Locked().process_receipt(receipt, errors=DISCARD)
            locks.append(
                ModelLock(event.args.id, sender.address, recipient, amount, t + ttl, preimage)
            )
            expected[sender.address] -= amount + chain.gas_cost(receipt)
            _assert_executed_at(chain, receipt, t)
        elif not locks:
            continue
        elif kind == "redeem":
            _, index, good = step
            lk = locks[index % len(locks)]
            preimage = lk.preimage if good else make_secret(10_000 + index)[0]
            call = htlc.functions.redeem(lk.id, preimage)
            if lk.state != STATE_LOCKED:
                chain.expect_revert(call, "not locked", sender=relayer)
            elif t >= lk.timelock:
                chain.expect_revert(call, "expired", sender=relayer)
            elif not good:
                chain.expect_revert(call, "bad preimage", sender=relayer)
            else:
                receipt = chain.transact(call, sender=relayer)
                _assert_executed_at(chain, receipt, t)
                _count_payouts(htlc, receipt, locks)
                lk.state = STATE_REDEEMED
                note_event("redeem paid")
                expected[lk.recipient] += lk.amount
                expected[relayer.address] -= chain.gas_cost(receipt)
        elif kind == "refund":
            _, index = step
            lk = locks[index % len(locks)]
            call = htlc.functions.refund(lk.id)
            if lk.state != STATE_LOCKED:
                chain.expect_revert(call, "not locked", sender=relayer)
            elif t < lk.timelock:
                chain.expect_revert(call, "not expired", sender=relayer)
            else:
                receipt = chain.transact(call, sender=relayer)
                _assert_executed_at(chain, receipt, t)
                _count_payouts(htlc, receipt, locks)
                lk.state = STATE_REFUNDED
                note_event("refund paid")
                expected[lk.sender] += lk.amount
                expected[relayer.address] -= chain.gas_cost(receipt)

        # then the invariants hold after every step
        assert all(lk.payouts == (lk.state != STATE_LOCKED) for lk in locks)
        assert chain.balance(htlc.address) == sum(
            lk.amount for lk in locks if lk.state == STATE_LOCKED
        )
        for lk in locks:
            assert htlc.functions.getLock(lk.id).call()[6] == lk.state
        for address, balance in expected.items():
            assert chain.balance(address) == balance, address


def _count_payouts(htlc, receipt, locks: list[ModelLock]) -> None:
    # Count from the chain's own events, not from the model.
    by_id = {lk.id: lk for lk in locks}
    for event_type in (htlc.events.Redeemed, htlc.events.Refunded):
        for event in event_type().process_receipt(receipt, errors=DISCARD):
            by_id[event.args.id].payouts += 1


def _assert_executed_at(chain: EthTesterChain, receipt, t: int) -> None:
    # The model's accept/refuse predictions are only valid at the pinned time.
    assert chain.block_time(receipt) == t
