"""Fixtures and helpers for the Escrow contract tests (chains/contracts/Escrow.vy).

They build on the HTLC tests' two backends (``chain``: eth-tester and anvil, with locally
signed raw transactions) from ``conftest.py``; each test module declares its own small
fixtures from the deploy helpers here (``conftest.py`` belongs to the HTLC tests).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from .conftest import ZERO_ADDRESS, Chain

# getOrder's state numbers (design decision 3 of Escrow.vy).
NONE, FUNDED, DISPUTED, RELEASED, REFUNDED, RESOLVED = range(6)
BPS = 10_000
MAX_FEE_BPS = 1_000
AMOUNT = 10**18
FEE = AMOUNT // 101  # about 1 % of the seller's part, as ESCROW_FEE_BPS = 100 gives
TOKEN_SUPPLY = 1_000 * 10**18

# A treasury that never signs anything: an address only.
TREASURY = Account.from_key(keccak(b"escrow treasury")).address


def deploy_escrow(chain: Chain, *, owner: LocalAccount, arbiter: LocalAccount) -> Contract:
    """A fresh Escrow with ``arbiter`` and the fixed ``TREASURY``."""
    return chain.deploy("Escrow", arbiter.address, TREASURY, sender=owner)


def deploy_token(
    chain: Chain, escrow: Contract, *, owner: LocalAccount, holder: LocalAccount
) -> Contract:
    """TestToken with TOKEN_SUPPLY minted to ``holder``, approved for the escrow."""
    tok = chain.deploy("TestToken", "Test Token", "TST", 18, sender=owner)
    chain.transact(tok.functions.mint(holder.address, TOKEN_SUPPLY), sender=owner)
    chain.transact(tok.functions.approve(escrow.address, TOKEN_SUPPLY), sender=holder)
    return tok


def ref_of(seed: int) -> bytes:
    """A platform order reference (any 32 bytes)."""
    return keccak(b"order" + seed.to_bytes(8, "big"))


def expected_order_id(*, chain_id: int, escrow: str, depositor: str, ref: bytes) -> bytes:
    """The documented id formula (design decision 1), computed without the contract."""
    return keccak(
        abi_encode(["uint256", "address", "address", "bytes32"], [chain_id, escrow, depositor, ref])
    )


@dataclass(frozen=True)
class OrderInfo:
    id: bytes
    ref: bytes
    token: str
    buyer: str
    seller: str
    amount: int
    fee: int
    release_at: int
    receipt: TxReceipt

    def as_tuple(self, state: int) -> tuple:
        """The exact tuple getOrder must return for this order in ``state``."""
        return (
            self.token,
            self.buyer,
            self.seller,
            self.amount,
            self.fee,
            self.release_at,
            state,
        )


def deposit(
    chain: Chain,
    escrow: Contract,
    *,
    depositor: LocalAccount,
    seller: str,
    buyer: str | None = None,
    token: Contract | None = None,
    amount: int = AMOUNT,
    fee: int = FEE,
    ttl: int = 3600,
    seed: int = 1,
) -> OrderInfo:
    """Deposit for a new order (native coin unless ``token``) and check the returned id
    against the event and the documented formula."""
    ref = ref_of(seed)
    buyer = buyer or depositor.address
    token_address = token.address if token is not None else ZERO_ADDRESS
    release_at = chain.now() + ttl
    call = escrow.functions.deposit(ref, token_address, buyer, seller, amount, fee, release_at)
    value = 0 if token is not None else amount
    predicted = call.call({"from": depositor.address, "value": value})
    receipt = chain.transact(call, sender=depositor, value=value)
    (event,) = escrow.events.EscrowDeposited().process_receipt(receipt, errors=DISCARD)
    assert event.args.id == predicted
    assert predicted == expected_order_id(
        chain_id=chain.chain_id, escrow=escrow.address, depositor=depositor.address, ref=ref
    )
    return OrderInfo(predicted, ref, token_address, buyer, seller, amount, fee, release_at, receipt)


def events(escrow: Contract, receipt: TxReceipt, name: str) -> list[dict]:
    """The decoded ``name`` events of ``receipt``, as plain dicts."""
    return [
        dict(e.args)
        for e in getattr(escrow.events, name)().process_receipt(receipt, errors=DISCARD)
    ]
