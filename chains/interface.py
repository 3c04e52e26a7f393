"""What `chains` hands to the rest of the project: plain frozen dataclasses, one lock-state
enum and one error type. No web3 object and no model row crosses this line.

Amounts are integers in base units; addresses and hashes are 0x-hex strings as the chain
gives them (callers lowercase what they compare).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

# The HTLC contract's name in the deployment registry.
HTLC = "HTLC"
# The token address the HTLC records for the network's native coin.
NATIVE_TOKEN = "0x0000000000000000000000000000000000000000"


class ChainUnavailable(Exception):
    """A network's RPC could not be reached, answered with an error, or the network lacks
    what the call needs (see ``NoHtlc``). The one error type for every chain read and send:
    callers answer "try again shortly" and Celery tasks retry it."""


class NoHtlc(ChainUnavailable):
    """No active HTLC deployment on the network: swaps cannot use it now."""


class LockState(IntEnum):
    """An HTLC lock's state, numbered as the contract's ``getLock`` reports it."""

    NONE = 0
    LOCKED = 1
    REDEEMED = 2
    REFUNDED = 3


@dataclass(frozen=True)
class TxRequest:
    """A transaction for a wallet to sign and send as is."""

    network: str
    chain_id: int
    to: str
    data: str
    value: int  # wei

    def as_dict(self) -> dict:
        return {
            "network": self.network,
            "chain_id": self.chain_id,
            "to": self.to,
            "data": self.data,
            "value": str(self.value),
        }


@dataclass(frozen=True)
class Head:
    """A chain's latest block: its number, its hash (which tells a reorg apart) and its
    timestamp (the clock the timelocks go by)."""

    number: int
    hash: str
    timestamp: int


@dataclass(frozen=True)
class LockSpec:
    """A lock as it must be made: enough to encode it and to know its id before mining.

    ``token`` is ``NATIVE_TOKEN`` for the network's native coin."""

    network: str
    token: str
    sender: str
    recipient: str
    amount: int  # base units
    hashlock: str
    timelock: int

    @property
    def is_native(self) -> bool:
        return self.token.lower() == NATIVE_TOKEN

    def lowercase(self) -> LockSpec:
        """The same lock with addresses and hashlock lowercase, to compare with ``Lock``s."""
        return LockSpec(
            network=self.network,
            token=self.token.lower(),
            sender=self.sender.lower(),
            recipient=self.recipient.lower(),
            amount=self.amount,
            hashlock=self.hashlock.lower(),
            timelock=self.timelock,
        )


@dataclass(frozen=True)
class Lock:
    """One confirmed HTLC lock as the watcher recorded it. Addresses and hashes are
    lowercase."""

    network: str
    lock_id: str
    token: str  # NATIVE_TOKEN for the native coin
    sender: str
    recipient: str
    amount: int  # base units
    hashlock: str
    timelock: int
    state: LockState
    locked_block: int
    preimage: str = ""


@dataclass(frozen=True)
class HtlcEvent:
    """An HTLC event as other apps see it. Integers stay integers (base units)."""

    network: str
    name: str  # Locked | Redeemed | Refunded
    lock_id: str
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    block_timestamp: int
    contract: str
    args: dict[str, Any]
    orphaned: bool = False


@dataclass(frozen=True)
class EventRef:
    """Where a confirmed event is: the evidence of a step."""

    network: str
    tx_hash: str
    block_number: int
