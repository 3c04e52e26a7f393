"""Property: no sequence of chain events, duplicates, reorders or shallow reorgs leaves a
swap in a state that contradicts the chain, and every recorded move is a legal one.

A small model of the two chains produces physically possible histories (a lock is
redeemed only with the secret, which is public only once the taker redeemed; refunds only
of live locks). Its events go through the real watcher hooks (``chains.locks`` keeps the
lock table, ``swaps.chain`` re-derives the swap) in any interleaving of the two networks,
each network's own order kept, as the watcher guarantees, with repeats. (The watcher
itself never hands a hook the same event twice; the swap must not care if it did.)
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import WalletFactory
from chains import locks
from chains.interface import NATIVE_TOKEN, HtlcEvent, LockState
from marketplace.tests.factories import ListingFactory
from swaps import chain as swap_hook
from swaps import machine
from swaps.models import REORG_ROLLBACKS, TRANSITIONS, Swap
from swaps.onchain import lock_facts, terms

S = Swap.State
T1, T2 = 2_000_000_000, 1_999_990_000
STRANGER = "0x" + "5" * 40
KINDS = ["valid", "valid", "bad_amount", "bad_timelock", "stranger_bad", "stranger_valid"]
OPS = st.one_of(
    st.tuples(st.just("taker_lock"), st.sampled_from(KINDS)),
    st.tuples(st.just("maker_lock"), st.sampled_from(KINDS)),
    st.tuples(st.just("taker_redeems_maker_lock"), st.just("")),
    st.tuples(st.just("maker_redeems_taker_lock"), st.just("")),
    st.tuples(st.just("refund"), st.sampled_from(["local-a", "local-b"])),
    st.tuples(st.just("reorg"), st.sampled_from(["local-a", "local-b"])),
)


@dataclass
class ModelLock:
    network: str
    lock_id: str
    token: str
    sender: str
    recipient: str
    amount: int
    timelock: int
    state: str = "locked"
    bad_party_lock: bool = False


@dataclass
class World:
    """Two chains' worth of HTLC events for one hashlock, appended in each chain's order."""

    swap: Swap
    secret: str
    streams: dict[str, list[HtlcEvent]] = field(
        default_factory=lambda: {"local-a": [], "local-b": []}
    )
    locks: dict[str, ModelLock] = field(default_factory=dict)
    revealed: bool = False
    block: int = 100

    def _event(self, network: str, name: str, lock_id: str, args: dict) -> None:
        self.block += 1
        self.streams[network].append(
            HtlcEvent(
                network=network,
                name=name,
                lock_id=lock_id,
                tx_hash="0x" + os.urandom(32).hex(),
                log_index=0,
                block_number=self.block,
                block_hash="0x" + os.urandom(32).hex(),
                block_timestamp=1_900_000_000 + self.block,
                contract="0x" + "c" * 40,
                args={"id": lock_id, **args},
            )
        )

    def lock(self, side: str, kind: str) -> None:
        swap = self.swap
        if side == "taker":
            network, token, amount, timelock = "local-b", swap.quote_asset.address, 2000 * 10**6, T1
            sender, recipient = swap.taker_address, swap.maker_payout_address
        else:
            network, token, amount, timelock = "local-a", None, 10**18, T2
            sender, recipient = swap.maker_refund_address, swap.taker_address
        if kind.startswith("stranger"):
            sender = STRANGER
        if kind.endswith("bad") or kind == "bad_amount":
            amount += 1
        if kind == "bad_timelock":
            timelock -= 3600
        lock_id = "0x" + os.urandom(32).hex()
        token = token or NATIVE_TOKEN
        self.locks[lock_id] = ModelLock(
            network,
            lock_id,
            token,
            sender,
            recipient,
            amount,
            timelock,
            "locked",
            kind.startswith("bad"),
        )
        self._event(
            network,
            "Locked",
            lock_id,
            {
                "token": token,
                "sender": sender,
                "recipient": recipient,
                "amount": str(amount),
                "hashlock": swap.hashlock,
                "timelock": str(timelock),
            },
        )

    def _live(self, network: str, recipient: str) -> ModelLock | None:
        return next(
            (
                lk
                for lk in self.locks.values()
                if lk.network == network
                and lk.state == "locked"
                and lk.recipient.lower() == recipient.lower()
            ),
            None,
        )

    def redeem(self, network: str, recipient: str, *, needs_reveal: bool) -> None:
        if needs_reveal and not self.revealed:
            return  # nobody but the taker knows the secret yet
        lock = self._live(network, recipient)
        if lock is None:
            return
        lock.state = "redeemed"
        self.revealed = True
        self._event(network, "Redeemed", lock.lock_id, {"preimage": self.secret})

    def refund(self, network: str) -> None:
        lock = next(
            (lk for lk in self.locks.values() if lk.network == network and lk.state == "locked"),
            None,
        )
        if lock is not None:
            lock.state = "refunded"
            self._event(network, "Refunded", lock.lock_id, {})

    def reorg(self, network: str) -> None:
        """Orphan the newest event of `network` if it is a lock nothing happened to since.

        Not a party's bad lock: that flags the swap, a final state (the listing is released
        at once); a reorg deeper than the confirmations that undoes it is left to staff.
        """
        stream = [e for e in self.streams[network] if not e.orphaned]
        orphaned_ids = {e.tx_hash for e in self.streams[network] if e.orphaned}
        stream = [e for e in stream if e.tx_hash not in orphaned_ids]
        if not stream or stream[-1].name != "Locked":
            return
        last = stream[-1]
        if self.locks[last.lock_id].bad_party_lock:
            return
        del self.locks[last.lock_id]
        self.streams[network].append(
            HtlcEvent(**{**last.__dict__, "orphaned": True})  # the watcher re-sends it, orphaned
        )


def deliver(batch: list[HtlcEvent]) -> None:
    """What the watcher does with a batch of confirmed or orphaned events of one network:
    call the hooks in order, each once with the whole batch."""
    locks.on_chain_event(batch)
    swap_hook.on_chain_event(batch)


def batches(stream: list[HtlcEvent], cuts: list[bool]) -> list[list[HtlcEvent]]:
    """`stream` in consecutive batches, as the watcher's passes hand it on: a new batch where
    `cuts` says so, and always where confirmed and orphaned events meet (a rollback is a
    batch of its own)."""
    found: list[list[HtlcEvent]] = []
    choices = iter(cuts)
    for event in stream:
        cut = next(choices, False)
        if not found or cut or found[-1][-1].orphaned != event.orphaned:
            found.append([])
        found[-1].append(event)
    return found


def consistent(swap: Swap) -> bool:
    """Whether the swap's state is true of the chain facts now recorded.

    Written out per state, independently of ``machine``'s table, so an error there shows.
    """
    sides = machine.classify(terms(swap), lock_facts(swap.hashlock))
    t = sides.taker.state if sides.taker else None
    m = sides.maker.state if sides.maker else None
    locked, redeemed, refunded = LockState.LOCKED, LockState.REDEEMED, LockState.REFUNDED
    claims = {
        S.CREATED: t is None and not sides.flag,
        S.TAKER_LOCKED: t in (locked, redeemed) and m is None and not sides.flag,
        S.MAKER_LOCKED: (t, m) == (locked, locked) and not sides.flag,
        S.SECRET_REVEALED: (t, m) in {(locked, redeemed), (redeemed, locked)} and not sides.flag,
        S.COMPLETED: (t, m) == (redeemed, redeemed),
        S.REFUNDED: refunded in (t, m),
        S.FLAGGED: bool(sides.flag) or (t, m) == (redeemed, refunded),
    }
    return claims[swap.state]


def new_swap() -> tuple[Swap, str]:
    listing = ListingFactory(amount=Decimal("10"), max_trade=Decimal("5"))
    taker = WalletFactory()
    secret = os.urandom(32)
    swap = Swap.objects.create(
        listing=listing,
        maker=listing.maker,
        taker=taker.user,
        base_asset=listing.base_asset,
        quote_asset=listing.quote_asset,
        amount=Decimal("1"),
        quote_amount=Decimal("2000"),
        price=Decimal("2000"),
        hashlock="0x" + hashlib.sha256(secret).hexdigest(),
        taker_address=taker.address,
        taker_refund_address=taker.address,
        maker_payout_address=listing.payout_address,
        maker_refund_address=listing.refund_address,
        taker_timelock=T1,
        maker_timelock=T2,
        quote_expires_at=timezone.now() + timedelta(minutes=10),
    )
    return swap, "0x" + secret.hex()


def play(ops) -> tuple[Swap, World]:
    """A created swap and a physically possible history of both chains made of `ops`."""
    swap, secret = new_swap()
    world = World(swap=swap, secret=secret)
    for op, arg in ops:
        if op == "taker_lock":
            world.lock("taker", arg)
        elif op == "maker_lock":
            world.lock("maker", arg)
        elif op == "taker_redeems_maker_lock":
            world.redeem("local-a", swap.taker_address, needs_reveal=False)
        elif op == "maker_redeems_taker_lock":
            world.redeem("local-b", swap.maker_payout_address, needs_reveal=True)
        elif op == "refund":
            world.refund(arg)
        else:
            world.reorg(arg)
    return swap, world


def interleave(a: list, b: list, order: list[bool]) -> list:
    """`a` and `b` merged, each in its own order, taking from `a` where `order` says so."""
    a, b, merged, choices = list(a), list(b), [], iter(order)
    while a or b:
        take_a = a and (not b or next(choices, True))
        merged.append((a if take_a else b).pop(0))
    return merged


def assert_true_of_the_chain(swap: Swap, ops) -> None:
    """The state is true of the chain, and each recorded move was legal."""
    swap.refresh_from_db()
    assert consistent(swap), (swap.state, swap.flag_reason, ops)
    moves = [e for e in swap.events.all()[1:] if not e.cause.startswith("fault:")]
    for event in moves:
        assert event.to_state in TRANSITIONS[event.from_state] or (
            event.cause == "reorg" and REORG_ROLLBACKS.get(event.from_state) == event.to_state
        ), (event.from_state, event.to_state, event.cause)


PROPERTY = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
@PROPERTY
@given(
    ops=st.lists(OPS, min_size=1, max_size=12),
    order=st.lists(st.booleans(), max_size=40),
    repeats=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
def test_no_event_sequence_contradicts_the_chain(ops, order, repeats):
    # given: a created swap and a physically possible history of both chains
    swap, world = play(ops)

    # when: the two networks' events arrive one per batch, interleaved any way, some twice
    streams = world.streams
    for position, event in enumerate(interleave(streams["local-a"], streams["local-b"], order)):
        deliver([event])
        if position + 1 in repeats:  # the same event again at once (a retried pass)
            deliver([event])

    # then
    assert_true_of_the_chain(swap, ops)


@pytest.mark.django_db
@PROPERTY
@given(
    ops=st.lists(OPS, min_size=1, max_size=12),
    cuts_a=st.lists(st.booleans(), max_size=20),
    cuts_b=st.lists(st.booleans(), max_size=20),
    order=st.lists(st.booleans(), max_size=40),
    repeats=st.lists(st.integers(min_value=0, max_value=40), max_size=3),
)
def test_no_split_of_the_events_into_batches_contradicts_the_chain(
    ops, cuts_a, cuts_b, order, repeats
):
    # given: a created swap and a physically possible history of both chains
    swap, world = play(ops)

    # when: each network's events arrive in batches cut anywhere (a Locked and the Redeemed
    # of the same lock may share one), the two networks' batches interleaved any way, some
    # batches twice (a retried pass)
    a = batches(world.streams["local-a"], cuts_a)
    b = batches(world.streams["local-b"], cuts_b)
    for position, batch in enumerate(interleave(a, b, order)):
        deliver(batch)
        if position + 1 in repeats:
            deliver(batch)

    # then
    assert_true_of_the_chain(swap, ops)
