"""The Escrow contract (``contracts/Escrow.vy``) for the rest of the project.

Everything that touches the chain for an escrowed order is here, because only ``chains``
imports web3 and eth-account: prepared transactions for the parties' wallets (approve,
deposit, release, refund, dispute), unconfirmed reads (an order on chain now, an allowance),
and the two transactions the server signs itself:

- ``resolve_send``: the arbiter's decision, signed with ``ARBITER_PRIVATE_KEY[_<NETWORK>]``
  (anvil's public development account 8 on ``local-*`` only). Never the relayer's key: the
  relayer's hot wallet pays gas for anyone, the arbiter's decides where money goes.
- ``release_send``: the automatic release once the release time has passed, sent with the
  relayer's key and nonce (allocated under the same ``RelayerAccount`` row lock as the
  relayer's own sends). The contract pays the seller and the treasury whoever sends it.

Everything returned is a plain frozen dataclass or a string; amounts are base units.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from enum import IntEnum

from django.conf import settings
from django.db import transaction
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chains import compiler, evm
from chains.interface import NATIVE_TOKEN, ChainUnavailable, TxRequest
from chains.keys import account_for, anvil_dev_account
from chains.models import Deployment, RelayerAccount
from chains.networks import Network

logger = logging.getLogger(__name__)

# The contract's name in the deployment registry.
ESCROW = "Escrow"
# The events the contract emits; names distinct from the HTLC's so that one stored
# ``ChainEvent`` name says which contract it came from.
EVENTS = (
    "EscrowDeposited",
    "EscrowReleased",
    "EscrowRefunded",
    "EscrowDisputed",
    "EscrowResolved",
    "EscrowCredited",
    "EscrowWithdrawn",
)
BPS = 10_000
MAX_FEE_BPS = 1_000  # the contract's cap on an order's fee (Escrow.vy, MAX_FEE_BPS)
# anvil's public development accounts, local networks only: 7 receives fees, 8 arbitrates.
ANVIL_TREASURY_INDEX = 7
ANVIL_ARBITER_INDEX = 8


_ERC20_ABI = [
    {
        "name": "approve",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "name": "allowance",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]


class NoEscrow(ChainUnavailable):
    """No active Escrow deployment on the network."""


class EscrowState(IntEnum):
    """An order's state as ``getOrder`` numbers it."""

    NONE = 0
    FUNDED = 1
    DISPUTED = 2
    RELEASED = 3
    REFUNDED = 4
    RESOLVED = 5


@dataclass(frozen=True)
class EscrowOrder:
    """An order as the contract holds it now (latest block, unconfirmed)."""

    token: str  # NATIVE_TOKEN for the native coin; lowercase like every address here
    buyer: str
    seller: str
    amount: int
    fee: int
    release_at: int
    state: EscrowState


@dataclass(frozen=True)
class EscrowDeployment:
    """The active Escrow on a network and the parties fixed in it."""

    network: str
    address: str  # checksummed
    arbiter: str  # checksummed
    treasury: str  # checksummed


# ------------------------------------------------------------------ the parties


def _is_local(network_name: str) -> bool:
    return network_name.startswith("local-")


def _env_key(role: str, network_name: str) -> str:
    specific = f"{role}_PRIVATE_KEY_{network_name.upper().replace('-', '_')}"
    return os.environ.get(specific) or os.environ.get(f"{role}_PRIVATE_KEY") or ""


def _arbiter_account(network_name: str) -> LocalAccount:
    """The arbiter's key: the environment only; anvil's account 8 on local networks.

    Raises ``chains.keys.MissingKey`` for another network without a key."""
    if _is_local(network_name) and not _env_key("ARBITER", network_name):
        return anvil_dev_account(ANVIL_ARBITER_INDEX)
    return account_for(role="ARBITER", network=network_name)


def arbiter_address(network_name: str) -> str:
    """The arbiter's address on `network_name`. Raises ``MissingKey`` without a key."""
    return str(_arbiter_account(network_name).address)


def treasury_address(network_name: str) -> str | None:
    """Where fees go: ``ESCROW_TREASURY_ADDRESS``; on local networks anvil's account 7
    without it; None elsewhere (that network gets no escrow)."""
    configured = settings.ESCROW_TREASURY_ADDRESS
    if configured:
        return Web3.to_checksum_address(configured)
    if _is_local(network_name):
        return str(anvil_dev_account(ANVIL_TREASURY_INDEX).address)
    return None


# ------------------------------------------------------------------ the contract


def escrow_abi() -> list[dict]:
    """The Escrow's ABI, compiled from the source in this release."""
    return compiler.compile_contract(ESCROW).abi


@functools.lru_cache(maxsize=1)
def _offline() -> Web3:
    return Web3()  # encoding only: no provider is ever called


def _contract(address: str, w3: Web3 | None = None):
    return (w3 or _offline()).eth.contract(
        address=Web3.to_checksum_address(address), abi=escrow_abi()
    )


def _active(network_name: str) -> Deployment | None:
    return Deployment.objects.filter(network=network_name, contract=ESCROW, active=True).first()


def escrow_address(network_name: str) -> str:
    """The checksummed address of the active Escrow on `network_name`. Raises ``NoEscrow``."""
    deployment = _active(network_name)
    if deployment is None:
        raise NoEscrow(network_name)
    return Web3.to_checksum_address(deployment.address)


def escrow_addresses() -> dict[str, str]:
    """Active Escrow addresses keyed by network name (one query)."""
    return {
        d.network: Web3.to_checksum_address(d.address)
        for d in Deployment.objects.filter(contract=ESCROW, active=True)
    }


def is_escrow_contract(*, network_name: str, address: str) -> bool:
    """Whether `address` is (or was) an Escrow this platform deployed on the network."""
    return Deployment.objects.filter(
        network=network_name, contract=ESCROW, address__iexact=address
    ).exists()


@functools.lru_cache(maxsize=64)
def _parties(network: Network, address: str) -> tuple[str, str]:
    # Fixed at deployment (design decision 6 of Escrow.vy), so cached per address.
    escrow = _contract(address, evm.web3_for(network))
    return escrow.functions.arbiter().call(), escrow.functions.treasury().call()


def deployment_get(network: Network) -> EscrowDeployment:
    """The active Escrow on `network` with its arbiter and treasury.

    Raises ``NoEscrow``, or ``ChainUnavailable`` when the chain cannot be read."""
    address = escrow_address(network.name)
    with evm.rpc_errors(f"{network.name}: escrow parties"):
        arbiter, treasury = _parties(network, address)
    return EscrowDeployment(network.name, address, arbiter, treasury)


def deployed_parties(*, network: Network, address: str) -> tuple[str, str]:
    """(arbiter, treasury) of the Escrow at `address`, read from the chain (checksummed).

    Raises ``ChainUnavailable``."""
    with evm.rpc_errors(f"{network.name}: escrow parties"):
        return _parties(network, Web3.to_checksum_address(address))


# ------------------------------------------------------------ prepared transactions


def _bytes32(value: str) -> bytes:
    raw = evm.hex_bytes(value)
    if len(raw) != 32:
        raise ValueError("expected 32 bytes")
    return raw


def order_id(*, network: Network, depositor: str, ref: str) -> str:
    """The id the Escrow gives a deposit by `depositor` for `ref` (design decision 1),
    known before anything is sent. Raises ``NoEscrow``."""
    encoded = abi_encode(
        ["uint256", "address", "address", "bytes32"],
        [
            network.chain_id,
            escrow_address(network.name),
            Web3.to_checksum_address(depositor),
            _bytes32(ref),
        ],
    )
    return Web3.to_hex(Web3.keccak(encoded))


def deposit_tx(
    *,
    network: Network,
    ref: str,
    token: str,
    buyer: str,
    seller: str,
    amount: int,
    fee: int,
    release_at: int,
) -> TxRequest:
    """``deposit(ref, token, buyer, seller, amount, fee, release_at)``; for the native coin
    (``token == NATIVE_TOKEN``) with ``value = amount``. Raises ``NoEscrow``."""
    to = escrow_address(network.name)
    data = _contract(to).encode_abi(
        "deposit",
        args=[
            _bytes32(ref),
            Web3.to_checksum_address(token),
            Web3.to_checksum_address(buyer),
            Web3.to_checksum_address(seller),
            amount,
            fee,
            release_at,
        ],
    )
    value = amount if token.lower() == NATIVE_TOKEN else 0
    return TxRequest(network.name, network.chain_id, to, data, value)


def approve_tx(*, network: Network, token: str, amount: int) -> TxRequest:
    """ERC-20 ``approve(escrow, amount)`` so that ``deposit`` can pull exactly `amount`."""
    spender = escrow_address(network.name)
    erc20 = _offline().eth.contract(address=Web3.to_checksum_address(token), abi=_ERC20_ABI)
    data = erc20.encode_abi("approve", args=[spender, amount])
    return TxRequest(network.name, network.chain_id, Web3.to_checksum_address(token), data, 0)


def _order_call(network: Network, function: str, order: str, *args: int) -> TxRequest:
    to = escrow_address(network.name)
    data = _contract(to).encode_abi(function, args=[_bytes32(order), *args])
    return TxRequest(network.name, network.chain_id, to, data, 0)


def release_tx(*, network: Network, order_id: str) -> TxRequest:
    """``release(order_id)``: the buyer's at any time, anyone's after the release time."""
    return _order_call(network, "release", order_id)


def refund_tx(*, network: Network, order_id: str) -> TxRequest:
    """``refund(order_id)``: the seller gives the whole deposit back."""
    return _order_call(network, "refund", order_id)


def dispute_tx(*, network: Network, order_id: str) -> TxRequest:
    """``dispute(order_id)``: buyer or seller, before the release time."""
    return _order_call(network, "dispute", order_id)


# ------------------------------------------------------------------ reads (unconfirmed)


def allowance(*, network: Network, token: str, owner: str) -> int:
    """How much of `token` the Escrow may pull from `owner` now (latest block).

    Raises ``ChainUnavailable`` (``NoEscrow`` without a deployment)."""
    spender = escrow_address(network.name)
    w3 = evm.web3_for(network)
    erc20 = w3.eth.contract(address=Web3.to_checksum_address(token), abi=_ERC20_ABI)
    with evm.rpc_errors(f"{network.name}: allowance"):
        return int(erc20.functions.allowance(Web3.to_checksum_address(owner), spender).call())


def order_read(*, network: Network, order_id: str) -> EscrowOrder:
    """An order as the contract holds it at the latest block: for refusing or waiting
    (a step already sent), never for recording a fact. Raises ``ChainUnavailable``."""
    escrow = _contract(escrow_address(network.name), evm.web3_for(network))
    with evm.rpc_errors(f"{network.name}: getOrder"):
        token, buyer, seller, amount, fee, release_at, state = escrow.functions.getOrder(
            _bytes32(order_id)
        ).call()
    return EscrowOrder(
        token=token.lower(),
        buyer=buyer.lower(),
        seller=seller.lower(),
        amount=int(amount),
        fee=int(fee),
        release_at=int(release_at),
        state=EscrowState(int(state)),
    )


# ------------------------------------------------------------------ sends


def resolve_send(*, network: Network, order_id: str, buyer_share_bps: int) -> str:
    """Send the arbiter's ``resolve(order_id, buyer_share_bps)`` and return its tx hash
    (not waited for; the watcher confirms it).

    Checks first that the order is disputed on chain now. Raises ``ValueError`` for a share
    outside 0..10000 or an order that is not disputed, ``MissingKey`` without an arbiter key,
    ``ChainUnavailable`` when the chain cannot be read or the send fails.
    """
    if not 0 <= buyer_share_bps <= BPS:
        raise ValueError("buyer_share_bps must be within 0..10000")
    if order_read(network=network, order_id=order_id).state != EscrowState.DISPUTED:
        raise ValueError("the order is not disputed on chain")
    account = _arbiter_account(network.name)
    tx = _order_call(network, "resolve", order_id, buyer_share_bps)
    w3 = evm.web3_for(network)
    with evm.rpc_errors(f"{network.name}: resolve"):
        nonce = w3.eth.get_transaction_count(account.address, "pending")
        sent = evm.send_transaction(w3, account, {"to": tx.to, "data": tx.data}, nonce=nonce)
    logger.info(
        "escrow resolve sent",
        extra={"network": network.name, "order_id": order_id, "tx_hash": sent.tx_hash},
    )
    return sent.tx_hash


def release_send(*, network: Network, order_id: str) -> str | None:
    """Send ``release(order_id)`` with the relayer's key once the chain's latest block has
    reached the order's release time with the order still funded; return the tx hash, or
    None (sending nothing) otherwise.

    The nonce is allocated under the relayer's ``RelayerAccount`` row lock, so this never
    shares a nonce with the relayer's own sends. Raises ``ChainUnavailable``.
    """
    on_chain = order_read(network=network, order_id=order_id)
    w3 = evm.web3_for(network)
    with evm.rpc_errors(f"{network.name}: latest block"):
        latest = int(w3.eth.get_block("latest")["timestamp"])
    if on_chain.state != EscrowState.FUNDED or latest < on_chain.release_at:
        return None
    tx = release_tx(network=network, order_id=order_id)
    account = account_for(role="RELAYER", network=network.name)
    with transaction.atomic():
        row, _ = RelayerAccount.objects.select_for_update().get_or_create(
            network=network.name, address=account.address
        )
        with evm.rpc_errors(f"{network.name}: escrow release"):
            pending = w3.eth.get_transaction_count(account.address, "pending")
            nonce = max(pending, row.next_nonce)
            sent = evm.send_transaction(w3, account, {"to": tx.to, "data": tx.data}, nonce=nonce)
        row.next_nonce = nonce + 1
        row.save(update_fields=["next_nonce"])
    logger.info(
        "escrow release sent",
        extra={"network": network.name, "order_id": order_id, "tx_hash": sent.tx_hash},
    )
    return sent.tx_hash


def address_checksum(address: str) -> str:
    """`address` checksummed. Raises ``ValueError`` for something that is not an address."""
    if not Web3.is_address(address):
        raise ValueError("not an address")
    return str(Web3.to_checksum_address(address))
