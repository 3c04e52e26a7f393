"""The relayer: the platform's hot wallet sends `redeem` and `refund` so users need not stay online.

It never holds user funds: the HTLC pays the lock's recipient (redeem) or its sender
(refund) whoever sends the transaction; the relayer only pays gas.

- Redeem: when the watcher confirms a ``Redeemed(id, preimage)`` on any network, every
  other live lock with ``hashlock == sha256(preimage)`` is redeemed with that preimage.
- Refund: a live lock whose timelock has passed, judged by the timestamp of the chain's
  latest block (what the contract checks), not by this server's clock, is refunded.
- Nonces: allocated under a row lock on ``RelayerAccount`` as the larger of the chain's
  pending count and the next nonce we recorded; the transaction is signed and stored
  (``RelayerTx``, status ``signed``, with its raw bytes) together with the advanced nonce
  in that same transaction, and broadcast only after the commit. So concurrent workers
  never share a nonce, and a worker killed between signing and broadcasting leaves a
  stored transaction that ``relayer_resume`` (every relayer pass) broadcasts again,
  byte for byte: the nonce is used once, by the transaction first signed for it.
- Stuck transactions are re-sent with the same nonce and higher fees.
- Each pass records the hot wallet's balance in the cache for ``/metrics``
  (``relayer_balance_ether``; the alert compares it with ``RELAYER_MIN_BALANCE_ETH``).
- Idempotent: one live ``RelayerTx`` per (network, action, lock); a repeat is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from web3 import Web3

from chains import compiler, evm, selectors
from chains.interface import HTLC, ChainUnavailable, HtlcEvent, LockState, NoHtlc
from chains.keys import account_for
from chains.models import ChainEvent, HtlcLock, RelayerAccount, RelayerTx
from chains.networks import Network
from core.queue import enqueue_on_commit
from core.sql import in_values

logger = logging.getLogger(__name__)

# EIP-1559 replacement needs at least +10% on both fees; 25% gets through congested pools.
BUMP_NUMERATOR, BUMP_DENOMINATOR = 5, 4


def _htlc(network: Network):
    deployment = selectors.htlc_deployment_get(network.name)
    if deployment is None:
        raise NoHtlc(network.name)
    w3 = evm.web3_for(network)
    address = Web3.to_checksum_address(deployment.address)
    return w3, w3.eth.contract(address=address, abi=compiler.compile_contract(HTLC).abi)


def _lock_filter_allows(network: str, lock_id: str) -> bool:
    path = settings.RELAYER_LOCK_FILTER
    return True if not path else bool(import_string(path)(network=network, lock_id=lock_id))


def _send(network: Network, w3, htlc, action: str, lock_id: str, data: str) -> RelayerTx | None:
    """Allocate a nonce, sign, store, commit, then broadcast. None if a live tx for this
    lock already exists. A broadcast that fails leaves the row ``signed`` for
    ``relayer_resume``."""
    live = RelayerTx.objects.filter(network=network.name, action=action, lock_id=lock_id).exclude(
        status=RelayerTx.Status.FAILED
    )
    if live.exists():
        return None
    account = account_for(role="RELAYER", network=network.name)
    try:
        with transaction.atomic():
            row, _ = RelayerAccount.objects.select_for_update().get_or_create(
                network=network.name, address=account.address
            )
            if live.exists():  # another worker sent it while we waited for the lock
                return None
            with evm.rpc_errors(f"{network.name}: relayer {action}"):
                pending = w3.eth.get_transaction_count(account.address, "pending")
                nonce = max(pending, row.next_nonce)
                signed = evm.sign_transaction(
                    w3, account, {"to": htlc.address, "data": data}, nonce=nonce
                )
            tx = RelayerTx.objects.create(
                network=network.name,
                action=action,
                lock_id=lock_id,
                nonce=nonce,
                tx_hash=signed.tx_hash,
                raw_tx=signed.raw_tx,
                data=data,
                gas=signed.gas,
                max_fee_per_gas=Decimal(signed.max_fee_per_gas),
                max_priority_fee_per_gas=Decimal(signed.max_priority_fee_per_gas),
                status=RelayerTx.Status.SIGNED,
            )
            row.next_nonce = nonce + 1
            row.save(update_fields=["next_nonce"])
    except IntegrityError:
        return None  # another worker recorded the same action first
    logger.info(
        "relayer signed",
        extra={
            "network": network.name,
            "action": action,
            "lock_id": lock_id,
            "nonce": tx.nonce,
            "tx_hash": tx.tx_hash,
        },
    )
    _broadcast(network, w3, tx)
    return tx


# What nodes answer when they already hold these exact bytes (geth, anvil, erigon, nethermind).
_ALREADY_KNOWN = ("already known", "already imported", "known transaction", "alreadyknown")


def _broadcast(network: Network, w3, tx: RelayerTx) -> None:
    """Send the stored bytes of a ``signed`` row and mark it ``pending``.

    Never raises for the chain: a node that cannot be reached leaves the row ``signed``
    (the next pass sends it again); a nonce the chain already used for something else
    marks it ``failed`` so the action can be taken afresh."""
    try:
        with evm.rpc_errors(f"{network.name}: relayer broadcast"):
            evm.broadcast(w3, tx.raw_tx)
    except ChainUnavailable as exc:
        text = str(exc).lower()
        if "nonce too low" in text and evm.receipt(w3, tx.tx_hash) is None:
            RelayerTx.objects.filter(pk=tx.pk).update(
                status=RelayerTx.Status.FAILED, error="nonce used by another transaction"
            )
            tx.status = RelayerTx.Status.FAILED
            logger.error(
                "relayer nonce taken by another transaction",
                extra={"network": network.name, "nonce": tx.nonce, "tx_hash": tx.tx_hash},
            )
            return
        if not any(marker in text for marker in (*_ALREADY_KNOWN, "nonce too low")):
            logger.warning(
                "relayer broadcast failed; kept for the next pass",
                extra={"network": network.name, "nonce": tx.nonce, "error": str(exc)[:300]},
            )
            return
    now = timezone.now()
    RelayerTx.objects.filter(pk=tx.pk, status=RelayerTx.Status.SIGNED).update(
        status=RelayerTx.Status.PENDING, sent_at=now
    )
    tx.status, tx.sent_at = RelayerTx.Status.PENDING, now
    logger.info(
        "relayer sent",
        extra={"network": network.name, "nonce": tx.nonce, "tx_hash": tx.tx_hash},
    )


def relayer_resume(*, network: Network) -> int:
    """Broadcast again every transaction signed and stored but not known to be sent (its
    worker died in between, or the node was unreachable), lowest nonce first, with the
    same bytes. Returns how many are now pending."""
    w3 = evm.web3_for(network)
    resumed = 0
    signed = RelayerTx.objects.filter(network=network.name, status=RelayerTx.Status.SIGNED)
    for tx in signed.order_by("nonce"):
        _broadcast(network, w3, tx)
        if tx.status == RelayerTx.Status.PENDING:
            resumed += 1
            logger.warning(
                "relayer re-sent a stored transaction",
                extra={"network": network.name, "nonce": tx.nonce, "tx_hash": tx.tx_hash},
            )
    return resumed


def relayer_redeem(*, network: Network, lock_id: str, preimage: str) -> RelayerTx | None:
    """Redeem lock `lock_id` on `network` with `preimage` (0x-hex, 32 bytes).

    Checks on chain first: the lock is live, the preimage matches its hashlock and the
    latest block is before its timelock; returns None (sending nothing) otherwise, or if
    this redeem was already sent. Raises ``ChainUnavailable`` (``NoHtlc`` without a
    deployment) when the chain cannot be read or the send fails; the task retries it.
    """
    w3, htlc = _htlc(network)
    secret = evm.hex_bytes(preimage)
    with evm.rpc_errors(f"{network.name}: getLock"):
        *_, hashlock, timelock, state = htlc.functions.getLock(evm.hex_bytes(lock_id)).call()
        latest = w3.eth.get_block("latest")["timestamp"]
    if (
        state != LockState.LOCKED
        or hashlib.sha256(secret).digest() != hashlock
        or latest >= timelock
    ):
        return None
    data = htlc.encode_abi("redeem", args=[evm.hex_bytes(lock_id), secret])
    return _send(network, w3, htlc, RelayerTx.Action.REDEEM, lock_id, data)


def relayer_refund(*, network: Network, lock_id: str) -> RelayerTx | None:
    """Refund lock `lock_id` on `network` once the chain's latest block reaches its timelock.

    Returns None, sending nothing, while the lock is not live or not yet expired by chain
    time, or if this refund was already sent. Raises ``ChainUnavailable`` like
    ``relayer_redeem``.
    """
    w3, htlc = _htlc(network)
    with evm.rpc_errors(f"{network.name}: getLock"):
        *_, timelock, state = htlc.functions.getLock(evm.hex_bytes(lock_id)).call()
        latest = w3.eth.get_block("latest")["timestamp"]
    if state != LockState.LOCKED or latest < timelock:
        return None
    data = htlc.encode_abi("refund", args=[evm.hex_bytes(lock_id)])
    return _send(network, w3, htlc, RelayerTx.Action.REFUND, lock_id, data)


def on_chain_event(events: Sequence[HtlcEvent]) -> None:
    """Watcher subscriber: each confirmed Redeemed of the batch reveals a preimage; queue the
    redeem of every other live lock with its hashlock, on any network.

    One query for the whole batch (the hashlocks in one parameter, ``core.sql.in_values``):
    the live locks carrying the revealed hashlocks, read after the lock table has applied
    the batch (so a sibling locked later in the same batch is redeemed too, and one redeemed
    or refunded later in it is not). Each sibling is queued once, even when several Redeemed of the
    batch reveal its preimage. Runs inside the watcher's transaction; each send is queued
    on commit (``relay_redeem_later``) if ``RELAYER_LOCK_FILTER`` allows it. An orphaned
    batch queues nothing.
    """
    revealed: dict[str, str] = {}  # hashlock -> preimage
    redeemed: set[tuple[str, str]] = set()
    for event in events:
        if event.orphaned or event.name != ChainEvent.Name.REDEEMED:
            continue
        preimage = event.args["preimage"]
        revealed.setdefault("0x" + hashlib.sha256(evm.hex_bytes(preimage)).hexdigest(), preimage)
        redeemed.add((event.network, event.lock_id))
    if not revealed:
        return
    siblings = sorted(
        HtlcLock.objects.filter(
            hashlock__in=in_values(sorted(revealed)), state=HtlcLock.State.LOCKED
        )
        .order_by()
        .values_list("network", "lock_id", "hashlock")
    )
    for network, lock_id, sibling_hashlock in siblings:
        if (network, lock_id) in redeemed or not _lock_filter_allows(network, lock_id):
            continue
        relay_redeem_later(network=network, lock_id=lock_id, preimage=revealed[sibling_hashlock])


# Set in the head follower's process (chains.follower.RedeemSender): it sends the redeems
# its own scans reveal, instead of queueing them for a worker that may be busy.
_redeem_sender: Callable[[str, str, str], None] | None = None


def redeem_sender_set(sender: Callable[[str, str, str], None] | None) -> None:
    """Send this process's relayer redeems with `sender(network, lock_id, preimage)`, called
    after the commit (None: queue them again)."""
    global _redeem_sender
    _redeem_sender = sender


def relay_redeem_later(*, network: str, lock_id: str, preimage: str) -> None:
    """The relayer's redeem of one lock, after the commit: by this process's redeem sender
    when it has one, else by the task ``chains.relay_redeem``. Either way a redeem that is
    lost (a crash after the commit) is queued again by ``swaps.reconcile``."""
    sender = _redeem_sender
    if sender is None:
        enqueue_on_commit("chains.relay_redeem", network, lock_id, preimage)
    else:
        transaction.on_commit(partial(sender, network, lock_id, preimage))


def expired_lock_ids(*, network: Network) -> list[str]:
    """Live locks on `network` whose timelock the chain's latest block has reached (and that
    ``RELAYER_LOCK_FILTER`` lets the relayer pay gas for)."""
    with evm.rpc_errors(f"{network.name}: latest block"):
        latest = evm.web3_for(network).eth.get_block("latest")["timestamp"]
    expired = HtlcLock.objects.filter(
        network=network.name, state=HtlcLock.State.LOCKED, timelock__lte=latest
    ).values_list("lock_id", flat=True)
    return [lock_id for lock_id in expired if _lock_filter_allows(network.name, lock_id)]


def relayer_sweep() -> None:
    """The periodic pass (task ``chains.relay_refunds``): on every network with an HTLC,
    broadcast what was signed but not sent, refund each live lock whose timelock has passed
    by the chain's clock, track the sent transactions and record the wallet's balance. One
    network's outage is logged and does not stop the others."""
    for network in selectors.network_list():
        if selectors.htlc_deployment_get(network.name) is None:
            continue
        try:
            relayer_resume(network=network)
            for lock_id in expired_lock_ids(network=network):
                relayer_refund(network=network, lock_id=lock_id)
            relayer_track(network=network)
            relayer_balance_record(network=network)
        except Exception:
            logger.exception("relayer pass failed", extra={"network": network.name})


def relayer_track(*, network: Network) -> None:
    """Mark mined relayer transactions; re-send stuck ones at the same nonce with higher fees."""
    w3 = evm.web3_for(network)
    account = account_for(role="RELAYER", network=network.name)
    stuck_before = timezone.now() - timedelta(seconds=settings.RELAYER_STUCK_SECONDS)
    pending = RelayerTx.objects.filter(network=network.name, status=RelayerTx.Status.PENDING)
    for tx in pending.order_by("nonce"):
        for tx_hash in [tx.tx_hash, *tx.replaced_hashes]:
            mined = evm.receipt(w3, tx_hash)
            if mined is not None:
                tx.status = RelayerTx.Status.MINED if mined.status == 1 else RelayerTx.Status.FAILED
                tx.block_number = mined.block_number
                tx.tx_hash = tx_hash
                tx.error = "" if mined.status == 1 else "reverted"
                tx.save(update_fields=["status", "block_number", "tx_hash", "error"])
                break
        else:
            if tx.sent_at is None or tx.sent_at < stuck_before:
                _bump(w3, account, network, tx)


def _bump(w3, account, network: Network, tx: RelayerTx) -> None:
    """Re-sign at the same nonce with fees 25% higher (at least today's), store, broadcast."""
    _, htlc = _htlc(network)
    if tx.data and tx.gas:
        data, gas = tx.data, int(tx.gas)
    else:  # a row from before the signed bytes were kept: read the original from the node
        original = w3.eth.get_transaction(tx.tx_hash)
        data, gas = Web3.to_hex(original["input"]), original["gas"]
    max_fee = int(tx.max_fee_per_gas) * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1
    priority = int(tx.max_priority_fee_per_gas) * BUMP_NUMERATOR // BUMP_DENOMINATOR + 1
    current_max, current_priority = evm.fees(w3)
    signed = evm.sign_transaction(
        w3,
        account,
        {"to": htlc.address, "data": data, "gas": gas},
        nonce=tx.nonce,
        max_fee_per_gas=max(max_fee, current_max),
        max_priority_fee_per_gas=max(priority, current_priority),
    )
    # Stored first, like a first send: a crash before the broadcast leaves the old bytes on
    # the node and these in the row; tracking watches both hashes, and re-prices again.
    tx.replaced_hashes = [*tx.replaced_hashes, tx.tx_hash]
    tx.tx_hash = signed.tx_hash
    tx.raw_tx = signed.raw_tx
    tx.data, tx.gas = data, gas
    tx.max_fee_per_gas = Decimal(signed.max_fee_per_gas)
    tx.max_priority_fee_per_gas = Decimal(signed.max_priority_fee_per_gas)
    tx.sent_at = timezone.now()
    tx.save()
    evm.broadcast(w3, signed.raw_tx)
    logger.warning(
        "relayer re-priced a stuck transaction",
        extra={"network": network.name, "lock_id": tx.lock_id, "nonce": tx.nonce},
    )


def _balance_key(network: str) -> str:
    return f"chains:relayer-balance:{network}"


def relayer_balance_record(*, network: Network) -> int:
    """Read the hot wallet's balance on `network` (wei) and keep it in the cache, with the
    address and the time, for ``/metrics``. Raises ``ChainUnavailable``."""
    from django.core.cache import cache

    address = account_for(role="RELAYER", network=network.name).address
    with evm.rpc_errors(f"{network.name}: relayer balance"):
        wei = int(evm.web3_for(network).eth.get_balance(address))
    cache.set(
        _balance_key(network.name),
        {"address": address, "wei": str(wei), "at": time.time()},
        timeout=None,
    )
    return wei


def relayer_balances(networks: list[str]) -> dict[str, dict]:
    """The balances ``relayer_balance_record`` last kept, by network (missing: never read)."""
    from django.core.cache import cache

    found = cache.get_many([_balance_key(n) for n in networks])
    return {n: found[_balance_key(n)] for n in networks if _balance_key(n) in found}
