"""Property test: arbitrary interleavings of deposit / release / refund / dispute / resolve.

A plain-Python model predicts, for every step, whether Escrow.vy must accept or refuse it
(and with which reason) at the exact block time the step runs, and every account's
balance. Invariants after every step, from the chain's own events and balances:

- per order, what went out equals what came in (the payout events of a finished order sum
  to its amount; an open order has paid nothing);
- each order pays out once (one payout event per finished order, none for an open one);
- the contract holds exactly the open orders' amounts (no credits arise here: every
  payee accepts coin);
- getOrder's state agrees with the model, and every balance is exact (gas included).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st
from web3.logs import DISCARD

from .conftest import ZERO_ADDRESS, EthTesterChain
from .escrow_support import (
    BPS,
    DISPUTED,
    FUNDED,
    REFUNDED,
    RELEASED,
    RESOLVED,
    TREASURY,
    ref_of,
)

ROLES = ("buyer", "seller", "stranger", "arbiter")
PAYOUT_EVENTS = ("EscrowReleased", "EscrowRefunded", "EscrowResolved")


@dataclass
class ModelOrder:
    id: bytes
    buyer: str
    seller: str
    amount: int
    fee: int
    release_at: int
    state: int = FUNDED
    paid_out: int = 0
    payouts: int = 0


deposit_step = st.tuples(
    st.just("deposit"),
    st.integers(0, 1),  # buyer index
    st.integers(0, 1),  # seller index
    st.integers(1, 10**18),  # amount
    st.integers(0, 1_000),  # fee in bps of the amount (the contract's cap)
    st.integers(1, 300),  # ttl
)
# Every role is drawn for every action (refusals are half the point), weighted towards the
# one the contract accepts so that accepted steps are frequent too.
release_step = st.tuples(
    st.just("release"), st.integers(0, 7), st.sampled_from(("buyer", "stranger", *ROLES))
)
refund_step = st.tuples(st.just("refund"), st.integers(0, 7), st.sampled_from(("seller", *ROLES)))
dispute_step = st.tuples(
    st.just("dispute"), st.integers(0, 7), st.sampled_from(("buyer", "seller", *ROLES))
)
resolve_step = st.tuples(
    st.just("resolve"),
    st.integers(0, 7),
    st.sampled_from(("arbiter", "arbiter", *ROLES)),
    st.one_of(st.integers(0, BPS), st.just(BPS + 1)),
)
wait_step = st.tuples(st.just("wait"), st.integers(0, 400))
steps = st.lists(
    st.one_of(deposit_step, release_step, refund_step, dispute_step, resolve_step, wait_step),
    max_size=14,
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=steps)
# Fixed cases so every run covers each way out and the double-payout attempts.
@example(
    steps=[
        ("deposit", 0, 0, 1000, 100, 50),
        ("dispute", 0, "seller"),
        ("release", 0, "stranger"),
        ("resolve", 0, "buyer", 3000),
        ("resolve", 0, "arbiter", 3000),
        ("resolve", 0, "arbiter", 3000),
        ("refund", 0, "seller"),
        ("release", 0, "buyer"),
    ]
)
@example(
    steps=[
        ("deposit", 1, 1, 7, 1000, 10),
        ("deposit", 0, 0, 10**18, 0, 100),
        ("release", 0, "stranger"),
        ("wait", 10),
        ("dispute", 0, "buyer"),
        ("release", 0, "stranger"),
        ("release", 0, "stranger"),
        ("refund", 1, "seller"),
        ("refund", 1, "seller"),
        ("dispute", 1, "buyer"),
    ]
)
def test_any_sequence_pays_out_once_and_exactly_what_came_in(tester_chain: EthTesterChain, steps):
    chain = tester_chain
    tester = chain.w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    try:
        _run(chain, steps)
    finally:
        tester.revert_to_snapshot(snapshot)


def _run(chain: EthTesterChain, steps) -> None:
    deployer, b0, b1, s0, s1, arbiter, stranger = chain.accounts[:7]
    buyers, sellers = [b0, b1], [s0, s1]
    escrow = chain.deploy("Escrow", arbiter.address, TREASURY, sender=deployer)
    accounts = {a.address: a for a in (b0, b1, s0, s1, arbiter, stranger)}
    expected = {a: chain.balance(a) for a in [*accounts, TREASURY]}
    orders: list[ModelOrder] = []
    wait = 0

    for step in steps:
        kind = step[0]
        if kind == "wait":
            wait += step[1]
            continue
        if kind != "deposit" and not orders:
            continue
        # when: pin the exact time this step executes at
        t = max(chain.now() + 1 + wait, chain.w3.eth.get_block("pending")["timestamp"])
        chain.set_next_timestamp(t)
        wait = 0

        if kind == "deposit":
            _, bi, si, amount, fee_bps, ttl = step
            buyer, seller = buyers[bi], sellers[si]
            fee = amount * fee_bps // BPS
            ref = ref_of(len(orders))
            call = escrow.functions.deposit(
                ref, ZERO_ADDRESS, buyer.address, seller.address, amount, fee, t + ttl
            )
            receipt = chain.transact(call, sender=buyer, value=amount)
            assert chain.block_time(receipt) == t
            (event,) = escrow.events.EscrowDeposited().process_receipt(receipt, errors=DISCARD)
            orders.append(
                ModelOrder(event.args.id, buyer.address, seller.address, amount, fee, t + ttl)
            )
            expected[buyer.address] -= amount + chain.gas_cost(receipt)
        else:
            order = orders[step[1] % len(orders)]
            sender = accounts[_address(step[2], order, arbiter, stranger)]
            refusal, payouts = _predict(kind, step, order, sender.address, arbiter.address, t)
            call = _call(escrow, kind, step, order)
            if refusal is not None:
                chain.expect_revert(call, refusal, sender=sender)
            else:
                receipt = chain.transact(call, sender=sender)
                assert chain.block_time(receipt) == t
                expected[sender.address] -= chain.gas_cost(receipt)
                for address, amount in payouts.items():
                    expected[address] += amount
                _count_payouts(escrow, receipt, orders)
                order.state = {
                    "release": RELEASED,
                    "refund": REFUNDED,
                    "dispute": DISPUTED,
                    "resolve": RESOLVED,
                }[kind]
                note_event(f"{kind} accepted")

        # then the invariants hold after every step
        for o in orders:
            finished = o.state in (RELEASED, REFUNDED, RESOLVED)
            assert o.payouts == (1 if finished else 0)
            assert o.paid_out == (o.amount if finished else 0)
            assert escrow.functions.getOrder(o.id).call()[6] == o.state
        assert chain.balance(escrow.address) == sum(
            o.amount for o in orders if o.state in (FUNDED, DISPUTED)
        )
        for address, balance in expected.items():
            assert chain.balance(address) == balance, address


def _address(role: str, order: ModelOrder, arbiter, stranger) -> str:
    return {
        "buyer": order.buyer,
        "seller": order.seller,
        "arbiter": arbiter.address,
        "stranger": stranger.address,
    }[role]


def _predict(
    kind: str, step, order: ModelOrder, sender: str, arbiter: str, t: int
) -> tuple[str | None, dict[str, int]]:
    """(the refusal the contract must give, or None; who receives what if it accepts)."""
    open_ = order.state in (FUNDED, DISPUTED)
    if kind == "release":
        if sender == order.buyer:
            if not open_:
                return "not releasable", {}
        elif order.state != FUNDED:
            return "not releasable", {}
        elif t < order.release_at:
            return "too early", {}
        return None, {order.seller: order.amount - order.fee, TREASURY: order.fee}
    if kind == "refund":
        if sender != order.seller:
            return "not seller", {}
        if not open_:
            return "not refundable", {}
        return None, {order.buyer: order.amount}
    if kind == "dispute":
        if sender not in (order.buyer, order.seller):
            return "not a party", {}
        if order.state != FUNDED:
            return "not disputable", {}
        if t >= order.release_at:
            return "too late", {}
        return None, {}
    bps = step[3]
    if sender != arbiter:
        return "not arbiter", {}
    if order.state != DISPUTED:
        return "not disputed", {}
    if bps > BPS:
        return "share above 100%", {}
    buyer_part = order.amount * bps // BPS
    return None, {order.buyer: buyer_part, order.seller: order.amount - buyer_part}


def _call(escrow, kind: str, step, order: ModelOrder):
    if kind == "resolve":
        return escrow.functions.resolve(order.id, step[3])
    return getattr(escrow.functions, kind)(order.id)


def _count_payouts(escrow, receipt, orders: list[ModelOrder]) -> None:
    # Count from the chain's own events, not from the model.
    by_id = {o.id: o for o in orders}
    for name in PAYOUT_EVENTS:
        for event in getattr(escrow.events, name)().process_receipt(receipt, errors=DISCARD):
            o = by_id[event.args.id]
            o.payouts += 1
            a = event.args
            o.paid_out += {
                "EscrowReleased": lambda a=a: a.seller_amount + a.fee,
                "EscrowRefunded": lambda a=a: a.amount,
                "EscrowResolved": lambda a=a: a.buyer_amount + a.seller_amount,
            }[name]()
