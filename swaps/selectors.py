"""Reads of the swaps app: a party's swaps, and what that party should do next."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Case, Count, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from chains import selectors as chain_selectors
from chains import txs
from chains.evm import ChainUnavailable
from core.decimals import base_units
from swaps.models import OPEN_STATES, Notification, Swap, SwapEvent

S = Swap.State


def _related(qs: QuerySet[Swap]) -> QuerySet[Swap]:
    return qs.select_related("base_asset", "quote_asset", "taker", "maker", "listing")


def swap_list(*, user, state: str | None = None) -> QuerySet[Swap]:
    """Swaps `user` takes part in, newest first, with their events prefetched."""
    qs = _related(Swap.objects.filter(Q(taker=user) | Q(maker=user))).prefetch_related("events")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at")


def swap_get(*, swap_id, user) -> Swap | None:
    """`user`'s swap `swap_id`, or None: another user's swap does not exist for them."""
    return swap_list(user=user).filter(pk=swap_id).first()


def swap_monitor_list() -> QuerySet[Swap]:
    """All swaps for staff, stuck ones first (open and unchanged for SWAP_STUCK_SECONDS)."""
    stuck_before = timezone.now() - timedelta(seconds=settings.SWAP_STUCK_SECONDS)
    return (
        _related(Swap.objects.all())
        .annotate(
            stuck=Case(
                When(state__in=OPEN_STATES, state_changed_at__lt=stuck_before, then=Value(True)),
                default=Value(False),
            )
        )
        .order_by("-stuck", "state_changed_at")
    )


def notification_list(*, user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def swaps_awaiting_relay() -> list[tuple[str, str, str]]:
    """(quote network, taker lock id, preimage) of swaps whose secret is public while the
    taker's lock still waits to be redeemed for the maker."""
    swaps = list(
        Swap.objects.filter(state=S.SECRET_REVEALED)
        .exclude(preimage="")
        .exclude(taker_lock_id="")
        .values_list("quote_asset__network", "taker_lock_id", "preimage")
    )
    live = chain_selectors.live_lock_keys([(network, lock_id) for network, lock_id, _ in swaps])
    return [row for row in swaps if (row[0], row[1]) in live]


def lock_belongs_to_swap(*, network: str, lock_id: str) -> bool:
    """RELAYER_LOCK_FILTER: the relayer pays gas only for locks that carry a swap's hashlock."""
    lock = chain_selectors.htlc_lock_get(network=network, lock_id=lock_id)
    return lock is not None and Swap.objects.filter(hashlock=lock.hashlock.lower()).exists()


# ------------------------------------------------------------------ next action


NOTHING = {"action": "none", "message": "Nothing left to do."}


def _wait(reason: str, message: str) -> dict:
    return {"action": "wait", "reason": reason, "message": message}


def _tx(action: str, message: str, tx: txs.TxRequest, **extra) -> dict:
    """A step with its transaction's fields at the top: network, chain_id, to, data, value."""
    return {"action": action, "message": message, **tx.as_dict(), **extra}


def _lock_step(swap: Swap, *, role: str, chain_now: int | None) -> dict:
    """Approve (a token without enough allowance) or lock, for the party whose turn it is."""
    if role == "taker":
        asset, amount = swap.quote_asset, swap.quote_amount
        recipient, sender, timelock = (
            swap.maker_payout_address,
            swap.taker_refund_address,
            swap.taker_timelock,
        )
    else:
        asset, amount = swap.base_asset, swap.amount
        recipient, sender, timelock = (
            swap.taker_address,
            swap.maker_refund_address,
            swap.maker_timelock,
        )
    network = chain_selectors.network_get(asset.network)
    if network is None:
        return _wait("network_unavailable", "This network is not available right now.")
    if chain_now is not None and chain_now >= timelock:
        return _wait("too_late", "It is too late to lock: the timelock has passed.")
    lock_amount = base_units(amount, asset.decimals)
    # A lock already on chain but not yet confirmed (the id is deterministic): wait for the
    # watcher instead of offering the approve or the lock again.
    expected = txs.lock_id(
        network=network,
        token=asset.address,
        sender=sender,
        recipient=recipient,
        amount=lock_amount,
        hashlock=swap.hashlock,
        timelock=timelock,
    )
    try:
        if txs.lock_state(network=network, lock_id=expected) != 0:
            return _wait("lock_confirming", "Your lock is on chain; waiting for confirmations.")
    except ChainUnavailable:
        return _wait("chain_unavailable", "The chain cannot be reached; try again shortly.")
    if asset.address:
        try:
            allowed = txs.allowance(network=network, token=asset.address, owner=sender)
        except ChainUnavailable:
            return _wait("chain_unavailable", "The chain cannot be reached; try again shortly.")
        if allowed < lock_amount:
            return _tx(
                "approve",
                f"Allow the swap contract to take {amount} {asset.symbol} from {sender}.",
                txs.approve_tx(network=network, token=asset.address, amount=lock_amount),
                **{"from": sender},
            )
    return _tx(
        "lock",
        f"Lock {amount} {asset.symbol} on {asset.network} from {sender}.",
        txs.lock_tx(
            network=network,
            token=asset.address,
            recipient=recipient,
            amount=lock_amount,
            hashlock=swap.hashlock,
            timelock=timelock,
        ),
        **{"from": sender},
    )


def _refund_step(swap: Swap, *, network_name: str, lock_id: str, message: str) -> dict:
    network = chain_selectors.network_get(network_name)
    if network is None:
        return _wait("network_unavailable", "This network is not available right now.")
    return _tx("refund", message, txs.refund_tx(network=network, lock_id=lock_id))


def _chain_now(network_name: str) -> int | None:
    network = chain_selectors.network_get(network_name)
    if network is None:
        return None
    try:
        return txs.latest_timestamp(network)
    except ChainUnavailable:
        return None


def next_action(swap: Swap, *, role: str) -> dict:
    """What `role` should do now; a chain or contract that cannot be reached means "wait"."""
    try:
        return _next_action(swap, role=role)
    except ChainUnavailable:
        return _wait("chain_unavailable", "The chain cannot be reached; try again shortly.")


def _next_action(swap: Swap, *, role: str) -> dict:
    """What `role` ("taker" or "maker") should do now, with the exact transaction to send.

    ``action`` is one of approve, lock, redeem, refund, wait, none; a step with a
    transaction carries ``network``, ``chain_id``, ``to``, ``data`` and ``value`` (wei, as a
    string) at the top level, and ``from`` when it must come from one address. The taker's redeem
    carries no data (the server never has the secret before it is public): it names the
    function and lock id and the client encodes ``redeem(lock_id, secret)`` itself.
    """
    state = swap.state
    if state in (S.COMPLETED, S.CANCELLED, S.EXPIRED):
        return dict(NOTHING)
    if state == S.CREATED:
        if role == "taker":
            return _lock_step(swap, role="taker", chain_now=_chain_now(swap.quote_asset.network))
        return _wait("taker_lock", "Waiting for the buyer to lock their payment.")
    if state == S.TAKER_LOCKED:
        if role == "maker":
            now = _chain_now(swap.base_asset.network)
            if now is not None and now >= swap.maker_timelock:
                return _wait("refund_pending", "Too late to lock; the buyer will be refunded.")
            return _lock_step(swap, role="maker", chain_now=now)
        return _wait("maker_lock", "Waiting for the seller to lock.")
    if state == S.MAKER_LOCKED:
        if role == "taker":
            network = chain_selectors.network_get(swap.base_asset.network)
            if network is None:
                return _wait("network_unavailable", "This network is not available right now.")
            return {
                "action": "redeem",
                "message": "Redeem the seller's lock with your secret.",
                "network": network.name,
                "chain_id": network.chain_id,
                "to": txs.htlc_address(network),
                "function": "redeem",
                "lock_id": swap.maker_lock_id,
                "value": "0",
            }
        return _wait("taker_redeem", "Waiting for the buyer to redeem; that reveals the secret.")
    if state == S.SECRET_REVEALED:
        if role == "maker" and swap.taker_lock_id and swap.preimage:
            network = chain_selectors.network_get(swap.quote_asset.network)
            if network is not None:
                return _tx(
                    "redeem",
                    "The secret is public: redeem the buyer's payment (the relayer does it too).",
                    txs.redeem_tx(
                        network=network, lock_id=swap.taker_lock_id, preimage=swap.preimage
                    ),
                )
        return _wait("completion", "The secret is public; the swap is being completed.")
    # refunded or flagged: a lock of yours may still wait for its timelock.
    own_lock = swap.taker_lock_id if role == "taker" else swap.maker_lock_id
    own_network = swap.quote_asset.network if role == "taker" else swap.base_asset.network
    timelock = swap.taker_timelock if role == "taker" else swap.maker_timelock
    if own_lock:
        lock = chain_selectors.htlc_lock_get(network=own_network, lock_id=own_lock)
        if lock is not None and lock.state == lock.State.LOCKED:
            now = _chain_now(own_network)
            if now is not None and now >= timelock:
                return _refund_step(
                    swap,
                    network_name=own_network,
                    lock_id=own_lock,
                    message="Refund your lock (the relayer does it too).",
                )
            return _wait("timelock", "Your lock is refunded once its timelock passes.")
    return dict(NOTHING)


def state_counts() -> dict[str, int]:
    """Number of swaps per state (one grouped query)."""
    return dict(Swap.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))


def completion_seconds() -> list[float]:
    """For each completed swap: seconds from its taker lock's confirmation to completion."""
    locked = SwapEvent.objects.filter(swap=OuterRef("swap"), to_state=S.TAKER_LOCKED).values(
        "created_at"
    )[:1]
    rows = SwapEvent.objects.filter(to_state=S.COMPLETED).annotate(locked_at=Subquery(locked))
    return [
        (row.created_at - row.locked_at).total_seconds()
        for row in rows
        if row.locked_at is not None
    ]
