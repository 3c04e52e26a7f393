"""The one place that knows an order's deposit on chain: its terms in base units, the
transactions its parties send, and what the contract holds for it now.

Everything chain-side goes through ``chains.escrow`` (prepared transactions, unconfirmed
reads, the arbiter's and the relayer's sends); this module maps an ``Order`` to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chains import escrow as chain_escrow
from chains import selectors as chain_selectors
from chains import txs
from chains.escrow import EscrowOrder, EscrowState
from chains.interface import NATIVE_TOKEN, TxRequest
from chains.networks import Network
from core.decimals import base_units
from escrow.models import Order

__all__ = ["EscrowOrder", "EscrowState", "Terms"]


@dataclass(frozen=True)
class Terms:
    """An order's deposit as it must be made; addresses lowercase, amounts in base units."""

    network: str
    ref: str
    token: str
    buyer: str
    seller: str
    amount: int
    fee: int
    release_at: int

    @property
    def is_native(self) -> bool:
        return self.token == NATIVE_TOKEN


def network(name: str) -> Network | None:
    """The enabled network called `name`, or None."""
    return chain_selectors.network_get(name)


def network_required(name: str) -> Network:
    """The enabled network `name`. Raises ``NoEscrow`` (a ``ChainUnavailable``) without it."""
    found = network(name)
    if found is None:
        raise chain_escrow.NoEscrow(name)
    return found


def has_escrow(network_name: str) -> bool:
    """Whether the network is enabled and has an active Escrow deployment."""
    if network(network_name) is None:
        return False
    try:
        chain_escrow.escrow_address(network_name)
    except chain_escrow.NoEscrow:
        return False
    return True


def terms(order: Order) -> Terms:
    """What the deposit of `order` must say, exactly."""
    decimals = order.asset.decimals
    return Terms(
        network=order.asset.network,
        ref=order.ref.lower(),
        token=(order.asset.address or NATIVE_TOKEN).lower(),
        buyer=order.buyer_address.lower(),
        seller=order.seller_address.lower(),
        amount=base_units(order.total, decimals),
        fee=base_units(order.fee, decimals),
        release_at=order.release_at,
    )


def chain_now(network_name: str) -> int:
    """The latest block's timestamp on the network. Raises ``ChainUnavailable``."""
    return txs.latest_timestamp(network_required(network_name))


def expected_id(order: Order, depositor: str | None = None) -> str:
    """The contract's id for a deposit of `order` by `depositor` (default: the buyer's
    address, the one next_action asks to send it). Raises ``ChainUnavailable``."""
    net = network_required(order.asset.network)
    return chain_escrow.order_id(
        network=net, depositor=depositor or order.buyer_address, ref=order.ref
    )


def on_chain(order: Order) -> EscrowOrder | None:
    """What the contract holds for `order` now (unconfirmed): by its confirmed id, else by
    the id a deposit from the buyer's address would get; None when nothing is there.
    Raises ``ChainUnavailable``."""
    net = network_required(order.asset.network)
    found = chain_escrow.order_read(network=net, order_id=order.onchain_id or expected_id(order))
    return None if found.state == EscrowState.NONE else found


def allowance_short(order: Order) -> bool:
    """Whether the buyer's address must approve the escrow before depositing a token."""
    t = terms(order)
    if t.is_native:
        return False
    net = network_required(t.network)
    have = chain_escrow.allowance(network=net, token=t.token, owner=order.buyer_address)
    return have < t.amount


def approve_tx(order: Order) -> TxRequest:
    t = terms(order)
    return chain_escrow.approve_tx(
        network=network_required(t.network), token=t.token, amount=t.amount
    )


def deposit_tx(order: Order) -> TxRequest:
    t = terms(order)
    return chain_escrow.deposit_tx(
        network=network_required(t.network),
        ref=t.ref,
        token=t.token,
        buyer=t.buyer,
        seller=t.seller,
        amount=t.amount,
        fee=t.fee,
        release_at=t.release_at,
    )


def release_tx(order: Order) -> TxRequest:
    net = network_required(order.asset.network)
    return chain_escrow.release_tx(network=net, order_id=order.onchain_id)


def refund_tx(order: Order) -> TxRequest:
    net = network_required(order.asset.network)
    return chain_escrow.refund_tx(network=net, order_id=order.onchain_id)


def dispute_tx(order: Order) -> TxRequest:
    net = network_required(order.asset.network)
    return chain_escrow.dispute_tx(network=net, order_id=order.onchain_id)


def resolve_send(order: Order, buyer_share_bps: int) -> str:
    """The arbiter's resolve, sent now; returns the tx hash (see ``chains.escrow``)."""
    net = network_required(order.asset.network)
    return chain_escrow.resolve_send(
        network=net, order_id=order.onchain_id, buyer_share_bps=buyer_share_bps
    )


def release_send(order: Order) -> str | None:
    """The automatic release by the relayer, once due by the chain's clock."""
    net = network_required(order.asset.network)
    return chain_escrow.release_send(network=net, order_id=order.onchain_id)


def address_valid(address: str) -> str | None:
    """`address` checksummed, or None if it is not an address."""
    try:
        return chain_escrow.address_checksum(address)
    except ValueError:
        return None
