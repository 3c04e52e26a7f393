"""web3 access for the rest of `chains/`. Nothing outside `chains/` imports this module:
other apps get ``chains.interface`` types and errors."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import TransactionNotFound
from web3.types import TxParams

from chains.interface import ChainUnavailable
from chains.networks import Network


@contextmanager
def rpc_errors(what: str) -> Iterator[None]:
    """Turn whatever web3 or its transport raises inside the block into ``ChainUnavailable``.

    web3 raises many kinds (requests' errors, ``Web3Exception``s, ``ValueError`` for an RPC
    error object, ``OSError``); callers and Celery's retries need one."""
    try:
        yield
    except ChainUnavailable:
        raise
    except Exception as exc:
        raise ChainUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class SentTx:
    tx_hash: str
    nonce: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    status: int
    contract_address: str | None
    gas_used: int


@functools.lru_cache(maxsize=32)
def _web3(rpc_url: str, timeout: float) -> Web3:
    return Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def web3_for(network: Network) -> Web3:
    """A Web3 client for `network` (one per RPC URL and process)."""
    return _web3(network.rpc_url, settings.CHAIN_RPC_TIMEOUT)


def fees(w3: Web3) -> tuple[int, int]:
    """EIP-1559 fees (max_fee_per_gas, max_priority_fee_per_gas), room for two base-fee rises."""
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    priority = w3.eth.max_priority_fee
    return 2 * base + priority, priority


@dataclass(frozen=True)
class SignedTx:
    """A transaction signed and not yet broadcast: the exact bytes to send (again)."""

    raw_tx: str  # 0x-hex
    tx_hash: str
    nonce: int
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def sign_transaction(
    w3: Web3,
    account: LocalAccount,
    tx: dict,
    *,
    nonce: int,
    max_fee_per_gas: int | None = None,
    max_priority_fee_per_gas: int | None = None,
) -> SignedTx:
    """Sign `tx` with `account` at `nonce`; nothing is broadcast (see ``broadcast``).

    `tx` holds `to`/`data`/`value` (and optionally `gas`, else estimated with 20% room);
    fees default to `fees(w3)`.
    """
    if max_fee_per_gas is None or max_priority_fee_per_gas is None:
        max_fee_per_gas, max_priority_fee_per_gas = fees(w3)
    full = {
        "chainId": w3.eth.chain_id,
        "from": account.address,
        "nonce": nonce,
        "maxFeePerGas": max_fee_per_gas,
        "maxPriorityFeePerGas": max_priority_fee_per_gas,
        "value": 0,
        **tx,
    }
    if "gas" not in full:
        full["gas"] = int(w3.eth.estimate_gas(cast(TxParams, full)) * 12 // 10)
    signed = account.sign_transaction(full)
    return SignedTx(
        raw_tx=Web3.to_hex(signed.raw_transaction),
        tx_hash=Web3.to_hex(signed.hash),
        nonce=nonce,
        gas=int(full["gas"]),
        max_fee_per_gas=max_fee_per_gas,
        max_priority_fee_per_gas=max_priority_fee_per_gas,
    )


def broadcast(w3: Web3, raw_tx: str) -> str:
    """Send signed bytes (``SignedTx.raw_tx``); returns the transaction hash. Sending the
    same bytes twice is harmless: the node answers with the same hash or "already known"."""
    return Web3.to_hex(w3.eth.send_raw_transaction(hex_bytes(raw_tx)))


def send_transaction(
    w3: Web3,
    account: LocalAccount,
    tx: dict,
    *,
    nonce: int,
    max_fee_per_gas: int | None = None,
    max_priority_fee_per_gas: int | None = None,
) -> SentTx:
    """Sign `tx` with `account` at `nonce` and broadcast it. Returns without waiting.

    `tx` holds `to`/`data`/`value` (and optionally `gas`); fees default to `fees(w3)`.
    """
    signed = sign_transaction(
        w3,
        account,
        tx,
        nonce=nonce,
        max_fee_per_gas=max_fee_per_gas,
        max_priority_fee_per_gas=max_priority_fee_per_gas,
    )
    tx_hash = broadcast(w3, signed.raw_tx)
    return SentTx(tx_hash, nonce, signed.max_fee_per_gas, signed.max_priority_fee_per_gas)


def receipt(w3: Web3, tx_hash: str) -> Receipt | None:
    """The receipt of `tx_hash`, or None while it is not mined."""
    try:
        r = w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except TransactionNotFound:
        return None
    return Receipt(
        tx_hash=Web3.to_hex(r["transactionHash"]),
        block_number=r["blockNumber"],
        status=r["status"],
        contract_address=r.get("contractAddress"),
        gas_used=r["gasUsed"],
    )


def wait_for_receipt(w3: Web3, tx_hash: str, *, timeout: float = 60.0) -> Receipt:
    """Poll for the receipt of `tx_hash`. Raises ``TimeoutError`` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = receipt(w3, tx_hash)
        if found is not None:
            return found
        time.sleep(0.2)
    raise TimeoutError(f"{tx_hash} not mined within {timeout}s")


def hex_bytes(value: str) -> bytes:
    """`0x`-prefixed (or bare) hex to bytes."""
    return bytes.fromhex(value.removeprefix("0x"))


def code_hash(w3: Web3, address: str) -> str:
    """keccak256 of the runtime code at `address` ("0x" + zeros-hash if none)."""
    return Web3.to_hex(Web3.keccak(w3.eth.get_code(Web3.to_checksum_address(address))))
