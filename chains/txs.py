"""Prepared transactions for users' wallets, and the few reads a swap step needs.

The server never signs for a user: it encodes the exact call (`to`, `data`, `value`) and
the user's wallet signs and sends it. Everything returned is a plain frozen dataclass;
amounts are integers in base units.
"""

from __future__ import annotations

import functools

from eth_abi import encode as abi_encode
from web3 import Web3

from chains import compiler, evm, selectors
from chains.interface import HTLC, Head, LockSpec, LockState, NoHtlc, TxRequest
from chains.networks import Network

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


@functools.lru_cache(maxsize=1)
def _offline() -> Web3:
    return Web3()  # encoding only: no provider is ever called


def _htlc_contract(address: str):
    abi = compiler.compile_contract(HTLC).abi
    return _offline().eth.contract(address=Web3.to_checksum_address(address), abi=abi)


def htlc_address(network: Network) -> str:
    """The checksummed address of the active HTLC on `network`. Raises NoHtlc."""
    deployment = selectors.htlc_deployment_get(network.name)
    if deployment is None:
        raise NoHtlc(network.name)
    return Web3.to_checksum_address(deployment.address)


def _hash32(value: str) -> bytes:
    raw = evm.hex_bytes(value)
    if len(raw) != 32:
        raise ValueError("expected 32 bytes")
    return raw


def lock_tx(*, network: Network, spec: LockSpec) -> TxRequest:
    """`lock` (native coin, value = amount) or `lockToken` (ERC-20, after an approve)."""
    to = htlc_address(network)
    htlc = _htlc_contract(to)
    recipient = Web3.to_checksum_address(spec.recipient)
    hashlock = _hash32(spec.hashlock)
    if spec.is_native:
        data = htlc.encode_abi("lock", args=[recipient, hashlock, spec.timelock])
        value = spec.amount
    else:
        token = Web3.to_checksum_address(spec.token)
        data = htlc.encode_abi(
            "lockToken", args=[token, recipient, spec.amount, hashlock, spec.timelock]
        )
        value = 0
    return TxRequest(network.name, network.chain_id, to, data, value)


def redeem_tx(*, network: Network, lock_id: str, preimage: str) -> TxRequest:
    """`redeem(lock_id, preimage)`: pays the lock's recipient whoever sends it."""
    to = htlc_address(network)
    data = _htlc_contract(to).encode_abi("redeem", args=[_hash32(lock_id), _hash32(preimage)])
    return TxRequest(network.name, network.chain_id, to, data, 0)


def refund_tx(*, network: Network, lock_id: str) -> TxRequest:
    """`refund(lock_id)`: pays the lock's sender back once its timelock has passed."""
    to = htlc_address(network)
    data = _htlc_contract(to).encode_abi("refund", args=[_hash32(lock_id)])
    return TxRequest(network.name, network.chain_id, to, data, 0)


def approve_tx(*, network: Network, token: str, amount: int) -> TxRequest:
    """ERC-20 `approve(htlc, amount)` so that `lockToken` can pull exactly `amount`."""
    spender = htlc_address(network)
    erc20 = _offline().eth.contract(address=Web3.to_checksum_address(token), abi=_ERC20_ABI)
    data = erc20.encode_abi("approve", args=[spender, amount])
    return TxRequest(network.name, network.chain_id, Web3.to_checksum_address(token), data, 0)


def allowance(*, network: Network, token: str, owner: str) -> int:
    """How much of `token` the HTLC may pull from `owner` now (latest block).

    Raises ``ChainUnavailable`` (``NoHtlc`` without a deployment) when it cannot be read.
    """
    spender = htlc_address(network)
    w3 = evm.web3_for(network)
    erc20 = w3.eth.contract(address=Web3.to_checksum_address(token), abi=_ERC20_ABI)
    with evm.rpc_errors(f"{network.name}: allowance"):
        return int(erc20.functions.allowance(Web3.to_checksum_address(owner), spender).call())


def lock_id(*, network: Network, spec: LockSpec) -> str:
    """The id the HTLC gives this lock (design decision 1 of HTLC.vy), known before mining."""
    encoded = abi_encode(
        ["uint256", "address", "address", "address", "address", "uint256", "bytes32", "uint256"],
        [
            network.chain_id,
            htlc_address(network),
            Web3.to_checksum_address(spec.token),
            Web3.to_checksum_address(spec.sender),
            Web3.to_checksum_address(spec.recipient),
            spec.amount,
            _hash32(spec.hashlock),
            spec.timelock,
        ],
    )
    return Web3.to_hex(Web3.keccak(encoded))


def lock_state(*, network: Network, lock_id: str) -> LockState:
    """A lock's state on chain now (latest block).

    Unconfirmed: for refusing an action early (a cancel, a step already sent), never for
    recording a fact. Raises ``ChainUnavailable``.
    """
    address = Web3.to_checksum_address(htlc_address(network))
    htlc = evm.web3_for(network).eth.contract(
        address=address, abi=compiler.compile_contract(HTLC).abi
    )
    with evm.rpc_errors(f"{network.name}: getLock"):
        return LockState(int(htlc.functions.getLock(_hash32(lock_id)).call()[-1]))


def head(network: Network) -> Head:
    """The latest block's number and timestamp. Raises ``ChainUnavailable``."""
    with evm.rpc_errors(f"{network.name}: latest block"):
        block = evm.web3_for(network).eth.get_block("latest")
        return Head(
            number=int(block["number"]),
            hash=Web3.to_hex(block["hash"]),
            timestamp=int(block["timestamp"]),
        )


def latest_timestamp(network: Network) -> int:
    """The latest block's timestamp: the clock the HTLC's timelocks are judged by."""
    return head(network).timestamp
