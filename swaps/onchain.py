"""The one place that knows a swap's side on the chains.

Its terms (which lock each party must make: network, token, sender, recipient, amount in
base units, hashlock, timelock), each lock's id before it is mined, the confirmed facts the
watcher recorded, the evidence of each step, the timelocks of a new swap and the chains'
clock, and the few raw reads a quote needs (fee level, balances, who sent a transaction).
Everything in ``swaps`` that needs a chain goes through here, and this module talks to
``chains`` only through ``chains.selectors``, ``chains.txs``, ``chains.rpc`` (plain JSON-RPC,
no web3 object) and ``chains.interface``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from accounts import selectors as account_selectors
from chains import rpc, txs
from chains import selectors as chain_selectors
from chains.interface import (
    NATIVE_TOKEN,
    ChainUnavailable,
    Head,
    Lock,
    LockSpec,
    LockState,
    TxRequest,
)
from chains.networks import Network
from core.decimals import base_units
from swaps import errors, machine
from swaps.models import Swap

S = Swap.State
TAKER, MAKER = "taker", "maker"


@dataclass(frozen=True)
class Evidence:
    """The confirmed event that shows a step (empty for steps no chain event shows)."""

    network: str = ""
    tx_hash: str = ""
    block: int | None = None


def network(name: str) -> Network | None:
    """The enabled network `name`, or None."""
    return chain_selectors.network_get(name)


def _network_or_raise(name: str) -> Network:
    found = network(name)
    if found is None:
        raise ChainUnavailable(f"{name}: not enabled")
    return found


def head(network_name: str) -> Head:
    """The latest block of `network_name`. Raises ``ChainUnavailable`` (also when the
    network is not enabled)."""
    return txs.head(_network_or_raise(network_name))


# ------------------------------------------------------------------ terms


def lock_network(swap: Swap, role: str) -> str:
    """The network `role`'s lock goes on: the taker pays on the quote network, the maker
    on the base network."""
    return swap.quote_asset.network if role == TAKER else swap.base_asset.network


def expected_lock(swap: Swap, role: str) -> LockSpec:
    """The lock `role` must make, exactly as the contract will record it.

    The taker locks the quote amount from their refund address to the maker's payout
    address until T1; the maker locks the base amount from their refund address to the
    taker's address until T2. Both carry the swap's hashlock.
    """
    if role == TAKER:
        asset, amount = swap.quote_asset, swap.quote_amount
        sender, recipient = swap.taker_refund_address, swap.maker_payout_address
        timelock = swap.taker_timelock
    else:
        asset, amount = swap.base_asset, swap.amount
        sender, recipient = swap.maker_refund_address, swap.taker_address
        timelock = swap.maker_timelock
    return LockSpec(
        network=asset.network,
        token=asset.address or NATIVE_TOKEN,
        sender=sender,
        recipient=recipient,
        amount=base_units(amount, asset.decimals),
        hashlock=swap.hashlock,
        timelock=timelock,
    )


def terms(swap: Swap) -> machine.Terms:
    """The terms both locks must meet, lowercase, with each party's known wallets (whose
    bad locks flag the swap; a stranger's are ignored)."""

    def wallets(user, *extra: str) -> frozenset[str]:
        linked = {w.address.lower() for w in account_selectors.wallet_list(user=user)}
        return frozenset(linked | {a.lower() for a in extra if a})

    return machine.Terms(
        taker=expected_lock(swap, TAKER).lowercase(),
        maker=expected_lock(swap, MAKER).lowercase(),
        timelock_tolerance=settings.SWAP_TIMELOCK_TOLERANCE_SECONDS,
        taker_wallets=wallets(swap.taker, swap.taker_refund_address),
        maker_wallets=wallets(swap.maker, swap.maker_refund_address),
    )


def _per_network(setting: dict, network: str) -> int:
    return int(setting.get(network, setting["default"]))


@dataclass(frozen=True)
class Schedule:
    """How long each step of a swap may take, in seconds (README, "Deadlines and
    timelocks"). ``maker_response`` and ``taker_redeem`` are the deadlines' windows; the
    confirmations are each chain's (confirmations × block time); ``margin`` is T1 - T2."""

    quote_window: int
    expiry_grace: int
    quote_confirmations: int
    maker_response: int
    base_confirmations: int
    taker_redeem: int
    margin: int

    @property
    def t2_after_creation(self) -> int:
        """T2 - now: the taker may lock until the quote window (and its grace) ends, the
        maker has ``maker_response`` from the taker's lock confirming, the taker
        ``taker_redeem`` from the maker's, and ``margin`` is left for the redeem to be mined
        and confirmed before the maker's lock can be refunded."""
        return (
            self.quote_window
            + self.expiry_grace
            + self.quote_confirmations
            + self.maker_response
            + self.base_confirmations
            + self.taker_redeem
            + self.margin
        )

    @property
    def t1_after_creation(self) -> int:
        """T1 - now = T2 + margin: the maker's time to redeem once the secret is public."""
        return self.t2_after_creation + self.margin


def schedule(base: Network, quote: Network) -> Schedule:
    """The step times for a swap of `base`'s asset for `quote`'s (from settings)."""
    confirm = {n.name: n.confirmations * n.block_time for n in (base, quote)}
    margin_floor = max(
        int(
            settings.SWAP_TIMELOCKS.get(n.name, settings.SWAP_TIMELOCKS["default"])[
                "margin_seconds"
            ]
        )
        for n in (base, quote)
    )
    margin = max(margin_floor, 4 * max(confirm.values()))
    return Schedule(
        quote_window=settings.SWAP_QUOTE_WINDOW_SECONDS,
        expiry_grace=settings.SWAP_EXPIRY_GRACE_SECONDS,
        quote_confirmations=confirm[quote.name],
        maker_response=_per_network(settings.SWAP_MAKER_RESPONSE_SECONDS, base.name),
        base_confirmations=confirm[base.name],
        taker_redeem=_per_network(settings.SWAP_TAKER_REDEEM_SECONDS, base.name),
        margin=margin + 2 * settings.SWAP_TIMELOCK_TOLERANCE_SECONDS,
    )


def schedule_for(swap: Swap) -> Schedule | None:
    """The step times of `swap`'s networks, or None when one is not enabled."""
    base, quote = network(swap.base_asset.network), network(swap.quote_asset.network)
    return schedule(base, quote) if base is not None and quote is not None else None


def timelocks(*, base_network: str, quote_network: str) -> tuple[int, int]:
    """(T1, T2) for a new swap, from the deadlines and the chains' finality: T2 = now +
    ``Schedule.t2_after_creation``, T1 = T2 + margin (``Schedule``).

    "Now" is the latest of this server's clock and both chains' latest block times, so a
    chain running ahead never receives a timelock already in its past. Raises
    ``SwapError`` ``network_unavailable`` or ``chain_unavailable`` (503).
    """
    base, quote = network(base_network), network(quote_network)
    if base is None or quote is None:
        missing = base_network if base is None else quote_network
        raise errors.refuse(errors.NETWORK_UNAVAILABLE, network=missing)
    try:
        now = max([int(time.time())] + [txs.head(n).timestamp for n in (base, quote)])
    except ChainUnavailable as exc:
        raise errors.refuse(errors.CHAIN_UNAVAILABLE) from exc
    steps = schedule(base, quote)
    return now + steps.t1_after_creation, now + steps.t2_after_creation


# ------------------------------------------------------------------ what the chain says now


def expected_lock_id(swap: Swap, role: str) -> str:
    """The id `role`'s lock gets on chain (deterministic, known before mining). Raises
    ``ChainUnavailable`` when the network or its contract is not available."""
    spec = expected_lock(swap, role)
    return txs.lock_id(network=_network_or_raise(spec.network), spec=spec)


def lock_sent(swap: Swap, role: str) -> bool:
    """Whether `role`'s lock is on chain now, confirmed or not (latest block).

    Unconfirmed: for refusing or withholding a step early, never for recording a fact.
    Raises ``ChainUnavailable``.
    """
    spec = expected_lock(swap, role)
    found = _network_or_raise(spec.network)
    lock_id = txs.lock_id(network=found, spec=spec)
    return txs.lock_state(network=found, lock_id=lock_id) != LockState.NONE


def lock_state_now(*, network_name: str, lock_id: str) -> LockState:
    """A lock's state on chain now (latest block), confirmed or not: to withhold a redeem or
    refund already sent, never to record a fact. Raises ``ChainUnavailable``."""
    return txs.lock_state(network=_network_or_raise(network_name), lock_id=lock_id)


def allowance_short(swap: Swap, role: str) -> bool:
    """Whether `role` must approve the HTLC before locking a token (allowance below the
    amount). False for the native coin. Raises ``ChainUnavailable``."""
    spec = expected_lock(swap, role)
    if spec.is_native:
        return False
    found = _network_or_raise(spec.network)
    allowed = txs.allowance(network=found, token=spec.token, owner=spec.sender)
    return allowed < spec.amount


# ------------------------------------------------------------------ transactions to send


def lock_tx(swap: Swap, role: str) -> TxRequest:
    """The lock `role` sends. Raises ``ChainUnavailable``."""
    spec = expected_lock(swap, role)
    return txs.lock_tx(network=_network_or_raise(spec.network), spec=spec)


def approve_tx(swap: Swap, role: str) -> TxRequest:
    """The ERC-20 approve of exactly the lock amount. Raises ``ChainUnavailable``."""
    spec = expected_lock(swap, role)
    return txs.approve_tx(
        network=_network_or_raise(spec.network), token=spec.token, amount=spec.amount
    )


def redeem_tx(*, network_name: str, lock_id: str, preimage: str) -> TxRequest:
    """`redeem(lock_id, preimage)`. Raises ``ChainUnavailable``."""
    return txs.redeem_tx(
        network=_network_or_raise(network_name), lock_id=lock_id, preimage=preimage
    )


def refund_tx(*, network_name: str, lock_id: str) -> TxRequest:
    """`refund(lock_id)`. Raises ``ChainUnavailable``."""
    return txs.refund_tx(network=_network_or_raise(network_name), lock_id=lock_id)


def htlc_address(network_name: str) -> str:
    """The HTLC contract's address on `network_name`. Raises ``ChainUnavailable``."""
    return txs.htlc_address(_network_or_raise(network_name))


# ------------------------------------------------------------------ confirmed facts


def lock_facts(hashlock: str) -> list[Lock]:
    """The confirmed locks carrying `hashlock`, as the watcher has recorded them."""
    return chain_selectors.htlc_locks_with_hashlock(hashlock)


def live_lock(*, network_name: str, lock_id: str) -> bool:
    """Whether a confirmed lock is still locked (neither redeemed nor refunded)."""
    lock = chain_selectors.htlc_lock_get(network=network_name, lock_id=lock_id)
    return lock is not None and lock.state == LockState.LOCKED


def hashlock_of(*, network_name: str, lock_id: str) -> str | None:
    """The hashlock a confirmed lock carries, or None for a lock not recorded."""
    lock = chain_selectors.htlc_lock_get(network=network_name, lock_id=lock_id)
    return lock.hashlock if lock is not None else None


def _evidence(lock: Lock | None, event_name: str) -> Evidence:
    if lock is None:
        return Evidence()
    event = chain_selectors.chain_event_get(
        network=lock.network, lock_id=lock.lock_id, name=event_name
    )
    if event is None:
        return Evidence(network=lock.network)
    return Evidence(network=event.network, tx_hash=event.tx_hash, block=event.block_number)


def step_evidence(state: str, sides: machine.Sides) -> tuple[str, Evidence]:
    """Why the chains put the swap in `state` (the cause), and the event that shows it."""
    taker, maker = sides.taker, sides.maker
    if state == S.TAKER_LOCKED:
        return "taker_lock_confirmed", _evidence(taker, "Locked")
    if state == S.MAKER_LOCKED:
        return "maker_lock_confirmed", _evidence(maker, "Locked")
    if state == S.SECRET_REVEALED:
        if maker is not None and maker.state == LockState.REDEEMED:
            return "maker_lock_redeemed", _evidence(maker, "Redeemed")
        return "taker_lock_redeemed", _evidence(taker, "Redeemed")
    if state == S.COMPLETED:
        return "taker_lock_redeemed", _evidence(taker, "Redeemed")
    if state == S.REFUNDED:
        if taker is not None and taker.state == LockState.REFUNDED:
            return "taker_lock_refunded", _evidence(taker, "Refunded")
        return "maker_lock_refunded", _evidence(maker, "Refunded")
    if state == S.FLAGGED:
        return sides.flag or "flagged", _evidence(sides.flagged_lock, "Locked")
    return state, Evidence()


# ------------------------------------------------------------------ raw reads for a quote

# bytes4(keccak256("balanceOf(address)"))
_BALANCE_OF = "0x70a08231"


@dataclass(frozen=True)
class Wallet:
    """What one address holds on one network now (latest block), and the fee level there."""

    network: str
    address: str
    native: int  # wei
    tokens: dict[str, int]  # lowercase token address -> base units
    gas_price: int  # wei per gas, the node's suggestion (base fee + tip)


def wallet_now(*, network_name: str, address: str, tokens: tuple[str, ...] = ()) -> Wallet:
    """`address`'s native balance, its balance of each of `tokens` and the network's gas
    price, in one JSON-RPC batch (latest block, unconfirmed: for telling a person what they
    can afford, never for recording a fact). Raises ``ChainUnavailable``."""
    found = _network_or_raise(network_name)
    owner = address.lower().removeprefix("0x").rjust(64, "0")
    calls: list[tuple[str, list]] = [("eth_gasPrice", []), ("eth_getBalance", [address, "latest"])]
    calls += [("eth_call", [{"to": t, "data": _BALANCE_OF + owner}, "latest"]) for t in tokens]
    answers = rpc.batch_call(found.rpc_url, calls)
    try:
        values = [int(a, 16) if a not in (None, "0x") else 0 for a in answers]
    except (TypeError, ValueError) as exc:
        raise ChainUnavailable(f"{network_name}: unreadable balance") from exc
    return Wallet(
        network=network_name,
        address=address,
        native=values[1],
        tokens={t.lower(): v for t, v in zip(tokens, values[2:], strict=True)},
        gas_price=values[0],
    )


@dataclass(frozen=True)
class SentBy:
    """Who sent a mined transaction and what its fee cost them."""

    sender: str  # lowercase
    fee: int  # wei: gas used x effective gas price


def sent_by(*, network_name: str, tx_hash: str) -> SentBy | None:
    """The sender and fee of a mined transaction (None when the node does not know it).
    Raises ``ChainUnavailable``."""
    found = _network_or_raise(network_name)
    tx, receipt = rpc.batch_call(
        found.rpc_url,
        [("eth_getTransactionByHash", [tx_hash]), ("eth_getTransactionReceipt", [tx_hash])],
    )
    if not tx or not receipt:
        return None
    price = receipt.get("effectiveGasPrice") or tx.get("gasPrice") or "0x0"
    return SentBy(sender=str(tx["from"]).lower(), fee=int(receipt["gasUsed"], 16) * int(price, 16))
