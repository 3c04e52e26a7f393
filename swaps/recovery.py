"""The recovery kit: everything a party needs to redeem or refund their swap's locks with any
wallet, without this site (README, "Recovery kit").

The server builds the kit's public part (``kit``): per lock its network and chain id, a
public RPC URL, the contract, the lock id, token, amount, sender, recipient and timelock,
and the exact ``refund`` call data; the ``redeem`` call data too once the secret is public.
The taker's browser adds the secret (which never reaches the server before the redeem) and
the redeem call data it makes (``static/js/swap.js``). The recovery page
(``static/js/recovery.js``) and ``python manage.py swap_recover`` read the same file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from chains import rpc
from chains.interface import ChainUnavailable, LockState
from core.decimals import base_units, format_plain
from swaps import onchain
from swaps.models import Swap

FORMAT = "p2pswap-recovery/1"
GET_LOCK = "0xd6f27b58"  # getLock(bytes32)
REDEEM = "0xb31597ad"  # redeem(bytes32,bytes32)
REFUND = "0x7249fbb6"  # refund(bytes32)


def _word(hex32: str) -> str:
    return hex32.lower().removeprefix("0x").rjust(64, "0")


def redeem_data(lock_id: str, secret: str) -> str:
    """The call data of ``redeem(lock_id, secret)``."""
    return REDEEM + _word(lock_id) + _word(secret)


def refund_data(lock_id: str) -> str:
    """The call data of ``refund(lock_id)``."""
    return REFUND + _word(lock_id)


def _leg(swap: Swap, role: str) -> dict:
    """One lock of `swap` as the kit describes it. Raises ``ChainUnavailable`` when its
    network or contract is not known now."""
    spec = onchain.expected_lock(swap, role)
    network = onchain.network(spec.network)
    if network is None:
        raise ChainUnavailable(f"{spec.network}: not enabled")
    known = swap.taker_lock_id if role == onchain.TAKER else swap.maker_lock_id
    lock_id = known or onchain.expected_lock_id(swap, role)
    contract = onchain.htlc_address(spec.network)
    asset = swap.quote_asset if role == onchain.TAKER else swap.base_asset
    amount = swap.quote_amount if role == onchain.TAKER else swap.amount
    redeem = {"to": contract, "function": "redeem(bytes32,bytes32)", "value": "0"}
    if swap.preimage:
        redeem["data"] = redeem_data(lock_id, swap.preimage)
    return {
        "network": spec.network,
        "chain_id": network.chain_id,
        "rpc_url": network.public_rpc_url,
        "explorer_url": network.explorer_url,
        "native_symbol": network.native_symbol,
        "contract": contract,
        "lock_id": lock_id,
        "token": None if asset.is_native else asset.address,
        "symbol": asset.symbol,
        "decimals": asset.decimals,
        "amount": format_plain(amount, asset.decimals),
        "amount_base_units": str(base_units(amount, asset.decimals)),
        "sender": spec.sender,
        "recipient": spec.recipient,
        "timelock": spec.timelock,
        "timelock_utc": datetime.fromtimestamp(spec.timelock, UTC).isoformat(),
        "refund": {
            "to": contract,
            "function": "refund(bytes32)",
            "data": refund_data(lock_id),
            "value": "0",
        },
        "redeem": redeem,
    }


def kit(swap: Swap, *, role: str) -> dict:
    """The public part of `role`'s recovery kit for `swap` (no secret: the taker's browser
    adds it). Raises ``ChainUnavailable`` when a network or contract is not known now."""
    return {
        "format": FORMAT,
        "site": settings.SITE_URL,
        "swap": str(swap.pk),
        "role": role,
        "hashlock": swap.hashlock,
        "secret": swap.preimage or None,
        "legs": {
            "taker": _leg(swap, onchain.TAKER),
            "maker": _leg(swap, onchain.MAKER),
        },
        "how": (
            "taker = the buyer's lock (refunded to the buyer after its timelock, redeemed for "
            "the seller with the secret); maker = the seller's lock (redeemed for the buyer "
            "with the secret before its timelock, refunded to the seller after it). Send "
            "`data` to `to` on `chain_id` from any account; the contract pays the recipient "
            "or the sender, never the account that sends."
        ),
    }


# ------------------------------------------------------------------ reading a kit


class KitError(ValueError):
    """A file that is not a usable recovery kit."""


@dataclass(frozen=True)
class Leg:
    role: str
    network: str
    chain_id: int
    contract: str
    lock_id: str
    timelock: int
    refund_data: str
    redeem_data: str | None
    amount: str
    symbol: str
    sender: str
    recipient: str
    mine: bool  # the file's owner sent this lock (a refund is theirs; a redeem never is)


def parse(text: str) -> list[Leg]:
    """The legs of a recovery file, with the redeem call data made from its secret when it
    has one. Raises ``KitError``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KitError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise KitError(f"not a recovery file (format {FORMAT} expected)")
    secret = data.get("secret")
    owner = data.get("role")
    if owner not in ("taker", "maker"):
        raise KitError("role must be taker or maker")
    legs = []
    for role in ("taker", "maker"):
        leg = data.get("legs", {}).get(role)
        if not isinstance(leg, dict):
            raise KitError(f"no {role} leg")
        try:
            # Only the other party's lock is redeemed for the owner: redeeming their own would
            # publish the secret and pay the other party first.
            redeem = leg.get("redeem", {}).get("data") if role != owner else None
            if not redeem and secret and role != owner:
                redeem = redeem_data(leg["lock_id"], secret)
            legs.append(
                Leg(
                    role=role,
                    network=str(leg["network"]),
                    chain_id=int(leg["chain_id"]),
                    contract=str(leg["contract"]),
                    lock_id=str(leg["lock_id"]),
                    timelock=int(leg["timelock"]),
                    refund_data=str(leg["refund"]["data"]),
                    redeem_data=redeem,
                    amount=str(leg["amount"]),
                    symbol=str(leg["symbol"]),
                    sender=str(leg["sender"]),
                    recipient=str(leg["recipient"]),
                    mine=role == owner,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KitError(f"{role} leg: {exc}") from exc
    return legs


@dataclass(frozen=True)
class OnChain:
    state: LockState
    timelock: int
    now: int  # the latest block's timestamp


def lock_on_chain(*, rpc_url: str, contract: str, lock_id: str) -> OnChain:
    """A lock's state and timelock, and the chain's clock, read through `rpc_url` (latest
    block). Raises ``ChainUnavailable``."""
    answer, block = rpc.batch_call(
        rpc_url,
        [
            ("eth_call", [{"to": contract, "data": GET_LOCK + _word(lock_id)}, "latest"]),
            ("eth_getBlockByNumber", ["latest", False]),
        ],
    )
    words = str(answer).removeprefix("0x")
    if len(words) < 7 * 64:
        raise ChainUnavailable("getLock: short answer (no HTLC at that address?)")
    return OnChain(
        state=LockState(int(words[6 * 64 : 7 * 64], 16)),
        timelock=int(words[5 * 64 : 6 * 64], 16),
        now=int(block["timestamp"], 16),
    )


def chain_id(rpc_url: str) -> int:
    """The chain id `rpc_url` serves. Raises ``ChainUnavailable``."""
    return int(rpc.call(rpc_url, "eth_chainId"), 16)


def next_step(leg: Leg, found: OnChain) -> str | None:
    """What the file's owner can send for `leg` now: "refund" of their own lock once its
    timelock is reached, "redeem" of the other party's lock before its timelock with the
    secret, or None."""
    if found.state != LockState.LOCKED:
        return None
    if leg.mine:
        return "refund" if found.now >= found.timelock else None
    if leg.redeem_data and found.now < found.timelock:
        return "redeem"
    return None


# ------------------------------------------------------------------ sending from a terminal


@dataclass(frozen=True)
class Sent:
    tx_hash: str
    status: int
    block: int


def send_with_key(*, rpc_url: str, chain: int, private_key: str, to: str, data: str) -> Sent:
    """Sign `data` to `to` with `private_key` and send it through `rpc_url`; wait for the
    receipt. For ``swap_recover`` only: a person's own key, read from their environment,
    used once and never stored or logged.

    Goes through ``chains``' own signer (``chains.evm``, ``chains.keys``), the only code
    that may touch eth-account; a ``chains.txs.send_with_key`` facade would keep its objects
    out of this module (see the README's "Not verified yet"). Raises ``ChainUnavailable``.
    """
    import os

    from chains import evm, keys
    from chains.networks import Network

    role = "SWAP_RECOVER"
    os.environ[f"{role}_PRIVATE_KEY"] = private_key
    try:
        account = keys.account_for(role=role, network="recovery")
    finally:
        del os.environ[f"{role}_PRIVATE_KEY"]
    network = Network("recovery", chain, rpc_url, "", 1, 1, "", "")
    w3 = evm.web3_for(network)
    with evm.rpc_errors("recovery send"):
        nonce = int(rpc.call(rpc_url, "eth_getTransactionCount", [account.address, "pending"]), 16)
        sent = evm.send_transaction(w3, account, {"to": to, "data": data}, nonce=nonce)
        receipt = evm.wait_for_receipt(w3, sent.tx_hash, timeout=120)
    return Sent(tx_hash=sent.tx_hash, status=receipt.status, block=receipt.block_number)
