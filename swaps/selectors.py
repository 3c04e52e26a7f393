"""Reads of the swaps app: a party's swaps, and what that party should do next."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, Count, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from chains import selectors as chain_selectors
from chains.interface import ChainUnavailable, LockState, TxRequest
from core.decimals import format_plain, from_base_units
from swaps import onchain
from swaps.models import (
    OPEN_STATES,
    Dispute,
    DisputeEvidence,
    Notification,
    Swap,
    SwapEvent,
    SwapMessage,
)

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


def swap_state_get(*, swap_id, user) -> str | None:
    """The state of `user`'s swap `swap_id` (one small query), or None."""
    return (
        Swap.objects.filter(Q(taker=user) | Q(maker=user), pk=swap_id)
        .values_list("state", flat=True)
        .first()
    )


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


def verified_email(*, user) -> str | None:
    """The address `user` confirmed (allauth): the primary one, else any confirmed one; None
    when they have none (a wallet-only account until it adds and confirms one)."""
    from allauth.account.models import EmailAddress

    found = (
        EmailAddress.objects.filter(user=user, verified=True)
        .order_by("-primary", "pk")
        .values_list("email", flat=True)
        .first()
    )
    return found or None


def unread_count(*, user) -> int:
    """How many of `user`'s notifications are unread (one query, on the user/read_at index)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


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
    hashlock = onchain.hashlock_of(network_name=network, lock_id=lock_id)
    return hashlock is not None and Swap.objects.filter(hashlock=hashlock.lower()).exists()


# ------------------------------------------------------------------ next action


NOTHING = {"action": "none", "message": "Nothing left to do."}
CHAIN_DOWN = ("chain_unavailable", "The chain cannot be reached; try again shortly.")


def _wait(reason: str, message: str) -> dict:
    return {"action": "wait", "reason": reason, "message": message}


def _tx(action: str, message: str, tx: TxRequest, **extra) -> dict:
    """A step with its transaction's fields at the top: network, chain_id, to, data, value."""
    return {"action": action, "message": message, **tx.as_dict(), **extra}


def _clock_network(swap: Swap, role: str) -> str | None:
    """The network whose latest block `role`'s next step depends on, or None when the step
    follows from the database alone."""
    state = swap.state
    if state == S.CREATED and role == onchain.TAKER:
        return swap.quote_asset.network
    if state == S.TAKER_LOCKED:  # both parties: has the maker's timelock passed?
        return swap.base_asset.network
    if state == S.MAKER_LOCKED and role == onchain.TAKER:  # a redeem may be mined already
        return swap.base_asset.network
    if state == S.SECRET_REVEALED and role == onchain.MAKER and swap.taker_lock_id:
        return swap.quote_asset.network
    if state in (S.REFUNDED, S.FLAGGED):
        own_lock = swap.taker_lock_id if role == onchain.TAKER else swap.maker_lock_id
        if own_lock and onchain.live_lock(
            network_name=onchain.lock_network(swap, role), lock_id=own_lock
        ):
            return onchain.lock_network(swap, role)
    return None


def swap_next_action(*, swap: Swap, role: str) -> dict:
    """What `role` ("taker" or "maker") should do now, with the exact transaction to send.

    ``action`` is one of approve, lock, redeem, refund, wait, none; a step with a
    transaction carries ``network``, ``chain_id``, ``to``, ``data`` and ``value`` (wei, as a
    string) at the top level, and ``from`` when it must come from one address. The taker's
    redeem carries no data (the server never has the secret before it is public): it names
    the function and lock id and the client encodes ``redeem(lock_id, secret)`` itself.

    A step that depends on a chain reads that chain's latest block (one RPC call) and is
    cached per swap, role, state and block hash: the allowance, the lock already sent and
    the chain's clock are read once per block, whoever asks. A chain or contract that
    cannot be reached means "wait".
    """
    try:
        network = _clock_network(swap, role)
        if network is None or onchain.network(network) is None:
            return _next_action(swap, role=role, chain_now=None)
        head = onchain.head(network)
        # A deadline passing changes the words, not the chain: it is part of the key too.
        deadline = {S.TAKER_LOCKED: swap.maker_deadline, S.MAKER_LOCKED: swap.taker_redeem_deadline}
        due = deadline.get(Swap.State(swap.state))
        late = due is not None and timezone.now() >= due
        key = (
            f"swaps:next:{swap.pk}:{role}:{swap.state}:{swap.updated_at.timestamp()}:"
            f"{network}:{head.hash}:{late}"
        )
        found = cache.get(key)
        if found is None:
            found = _next_action(swap, role=role, chain_now=head.timestamp)
            cache.set(key, found, timeout=settings.SWAP_NEXT_ACTION_CACHE_SECONDS)
        return found
    except ChainUnavailable:
        return _wait(*CHAIN_DOWN)


def _lock_step(swap: Swap, *, role: str, chain_now: int | None) -> dict:
    """Approve (a token without enough allowance) or lock, for the party whose turn it is."""
    spec = onchain.expected_lock(swap, role)
    if onchain.network(spec.network) is None:
        return _wait("network_unavailable", "This network is not available right now.")
    if chain_now is not None and chain_now >= spec.timelock:
        return _wait("too_late", "It is too late to lock: the timelock has passed.")
    # A lock already on chain but not yet confirmed (the id is deterministic): wait for the
    # watcher instead of offering the approve or the lock again.
    if onchain.lock_sent(swap, role):
        return _wait("lock_confirming", "Your lock is on chain; waiting for confirmations.")
    asset = swap.quote_asset if role == onchain.TAKER else swap.base_asset
    amount = swap.quote_amount if role == onchain.TAKER else swap.amount
    if onchain.allowance_short(swap, role):
        return _tx(
            "approve",
            f"Allow the swap contract to take {amount} {asset.symbol} from {spec.sender}.",
            onchain.approve_tx(swap, role),
            **{"from": spec.sender},
        )
    return _tx(
        "lock",
        f"Lock {amount} {asset.symbol} on {asset.network} from {spec.sender}.",
        onchain.lock_tx(swap, role),
        **{"from": spec.sender},
    )


def _ended_on_chain(network_name: str, lock_id: str) -> bool:
    """Whether a redeem or refund of the lock is already mined (not yet confirmed): the step
    is then never offered again."""
    if not lock_id or onchain.network(network_name) is None:
        return False
    state = onchain.lock_state_now(network_name=network_name, lock_id=lock_id)
    return state in (LockState.REDEEMED, LockState.REFUNDED)


def _next_action(swap: Swap, *, role: str, chain_now: int | None) -> dict:
    """``swap_next_action`` given the clock of the chain the step depends on."""
    state = swap.state
    if state in (S.COMPLETED, S.CANCELLED, S.EXPIRED):
        return dict(NOTHING)
    if state == S.CREATED:
        if role == onchain.TAKER:
            return _lock_step(swap, role=role, chain_now=chain_now)
        return _wait("taker_lock", "Waiting for the buyer to lock their payment.")
    if state == S.TAKER_LOCKED:
        if role == onchain.MAKER:
            if chain_now is not None and chain_now >= swap.maker_timelock:
                return _wait("refund_pending", "Too late to lock; the buyer will be refunded.")
            step = _lock_step(swap, role=role, chain_now=chain_now)
            # Past the deadline a lock is still honoured until T2, but the maker must know
            # it already counts against them.
            if swap.maker_deadline is not None and timezone.now() >= swap.maker_deadline:
                step["late"] = True
            return step
        if chain_now is not None and chain_now >= swap.maker_timelock:
            return _wait(
                "maker_too_late",
                "The seller can no longer lock; your payment is refunded after its timelock.",
            )
        if swap.maker_deadline is not None and timezone.now() >= swap.maker_deadline:
            return _wait(
                "maker_late",
                "The seller missed the deadline to lock; they may still lock until their "
                "timelock, else your payment is refunded after yours.",
            )
        return _wait("maker_lock", "Waiting for the seller to lock.")
    if state == S.MAKER_LOCKED:
        if role == onchain.TAKER:
            network = onchain.network(swap.base_asset.network)
            if network is None:
                return _wait("network_unavailable", "This network is not available right now.")
            if _ended_on_chain(network.name, swap.maker_lock_id):
                return _wait(
                    "redeem_confirming", "Your redeem is on chain; waiting for confirmations."
                )
            return {
                "action": "redeem",
                "message": "Redeem the seller's lock with your secret.",
                "network": network.name,
                "chain_id": network.chain_id,
                "to": onchain.htlc_address(network.name),
                "function": "redeem",
                "lock_id": swap.maker_lock_id,
                "value": "0",
            }
        if swap.taker_redeem_deadline is not None and timezone.now() >= swap.taker_redeem_deadline:
            return _wait(
                "taker_late",
                "The buyer missed the deadline to redeem; if they never do, your lock is "
                "refunded to you after its timelock.",
            )
        return _wait("taker_redeem", "Waiting for the buyer to redeem; that reveals the secret.")
    if state == S.SECRET_REVEALED:
        maker_may_redeem = role == onchain.MAKER and swap.taker_lock_id and swap.preimage
        network_up = onchain.network(swap.quote_asset.network) is not None
        if (
            maker_may_redeem
            and network_up
            and _ended_on_chain(swap.quote_asset.network, swap.taker_lock_id)
        ):
            return _wait("completion", "The buyer's payment is redeemed; the swap is completing.")
        if maker_may_redeem and network_up:
            return _tx(
                "redeem",
                "The secret is public: redeem the buyer's payment (the relayer does it too).",
                onchain.redeem_tx(
                    network_name=swap.quote_asset.network,
                    lock_id=swap.taker_lock_id,
                    preimage=swap.preimage,
                ),
            )
        return _wait("completion", "The secret is public; the swap is being completed.")
    # refunded or flagged: a lock of yours may still wait for its timelock.
    own_lock = swap.taker_lock_id if role == onchain.TAKER else swap.maker_lock_id
    own_network = onchain.lock_network(swap, role)
    timelock = swap.taker_timelock if role == onchain.TAKER else swap.maker_timelock
    if own_lock and onchain.live_lock(network_name=own_network, lock_id=own_lock):
        if _ended_on_chain(own_network, own_lock):
            return _wait("refund_confirming", "Your refund is on chain; waiting for confirmations.")
        if chain_now is not None and chain_now >= timelock:
            return _tx(
                "refund",
                "Refund your lock (the relayer does it too).",
                onchain.refund_tx(network_name=own_network, lock_id=own_lock),
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


# ------------------------------------------------------------------ where the money went


def _sent_by_cached(network: str, tx_hash: str) -> onchain.SentBy | None:
    """Who sent a mined transaction and its fee; kept once known (a confirmed transaction
    never changes). None when the chain cannot say now."""
    key = f"swaps:sent-by:{network}:{tx_hash}"
    found = cache.get(key)
    if found is None:
        try:
            found = onchain.sent_by(network_name=network, tx_hash=tx_hash)
        except ChainUnavailable:
            return None
        if found is not None:
            cache.set(key, found, timeout=None)
    return found


def swap_money(*, swap: Swap) -> list[dict]:
    """What happened to each party's locked coins, for the swap page: per lock the amount,
    network, sender and recipient, its state (locked, redeemed by the recipient, refunded to
    the sender), and each of its transactions (lock, redeem or refund) with its explorer
    link, who sent it and what its fee cost them. Locks not (yet) seen on chain are left
    out. Reads the lock table, and each transaction's sender and fee from its chain once."""
    rows = []
    for role, lock_id in ((onchain.TAKER, swap.taker_lock_id), (onchain.MAKER, swap.maker_lock_id)):
        if not lock_id:
            continue
        network = onchain.lock_network(swap, role)
        lock = chain_selectors.htlc_lock_get(network=network, lock_id=lock_id)
        if lock is None:
            continue
        asset = swap.quote_asset if role == onchain.TAKER else swap.base_asset
        txs = []
        for name in ("Locked", "Redeemed", "Refunded"):
            event = chain_selectors.chain_event_get(network=network, lock_id=lock_id, name=name)
            if event is None:
                continue
            sent = _sent_by_cached(network, event.tx_hash)
            txs.append(
                {
                    "event": name.lower(),
                    "tx_hash": event.tx_hash,
                    "block": event.block_number,
                    "explorer_url": chain_selectors.explorer_tx_url(
                        network=network, tx_hash=event.tx_hash
                    ),
                    "sender": sent.sender if sent else None,
                    "payer": _payer(swap, sent.sender) if sent else None,
                    "fee": format_plain(from_base_units(sent.fee, 18)) if sent else None,
                }
            )
        found = onchain.network(network)
        rows.append(
            {
                "role": role,
                "network": network,
                "native_symbol": found.native_symbol if found else "",
                "amount": format_plain(from_base_units(lock.amount, asset.decimals)),
                "symbol": asset.symbol,
                "sender": lock.sender,
                "recipient": lock.recipient,
                # paid to its recipient, returned to its sender, or still locked
                "outcome": _OUTCOME[lock.state],
                "timelock": lock.timelock,
                "txs": txs,
            }
        )
    return rows


_OUTCOME = {
    LockState.LOCKED: "locked",
    LockState.REDEEMED: "paid",
    LockState.REFUNDED: "returned",
    LockState.NONE: "locked",
}


def _payer(swap: Swap, sender: str) -> str:
    """Who a transaction's sender is to this swap: taker, maker, or relayer (anyone else;
    on this platform, its relayer)."""
    taker = {swap.taker_address.lower(), swap.taker_refund_address.lower()}
    maker = {swap.maker_payout_address.lower(), swap.maker_refund_address.lower()}
    if sender in taker:
        return "taker"
    if sender in maker:
        return "maker"
    return "relayer"


# ------------------------------------------------------------------ messages and disputes


def _message_row(message, *, viewer_id: int, parties: tuple[int, int]) -> dict:
    """A message as `viewer_id` reads it; ``staff`` when its author is neither party."""
    return {
        "id": message.pk,
        "author": message.author.public_name,
        "mine": message.author_id == viewer_id,
        "staff": message.author_id not in parties,
        "body": message.body,
        "created_at": message.created_at.isoformat(),
    }


def swap_message_list(*, swap: Swap, user) -> list[dict]:
    """The conversation of `swap`'s parties, oldest first, as `user` reads it (their own
    marked ``mine``). Two queries whatever its length."""
    rows = SwapMessage.objects.filter(swap=swap).select_related("author")
    parties = (swap.taker_id, swap.maker_id)
    return [_message_row(m, viewer_id=user.pk, parties=parties) for m in rows]


def swap_message_get(*, swap_id, message_id: int, user) -> dict | None:
    """One message of a swap `user` takes part in, as they read it, or None."""
    found = (
        SwapMessage.objects.filter(pk=message_id, swap_id=swap_id)
        .filter(Q(swap__taker=user) | Q(swap__maker=user))
        .select_related("author", "swap")
        .first()
    )
    if found is None:
        return None
    return _message_row(
        found, viewer_id=user.pk, parties=(found.swap.taker_id, found.swap.maker_id)
    )


def dispute_view(*, swap: Swap, user) -> dict | None:
    """`swap`'s dispute as a party (or staff) reads it: status, outcome and reason, every
    message (staff's marked) and the evidence files; None when there is none."""
    dispute = Dispute.objects.filter(swap=swap).select_related("opened_by").first()
    if dispute is None:
        return None
    parties = (swap.taker_id, swap.maker_id)
    messages = [
        _message_row(m, viewer_id=user.pk, parties=parties)
        for m in dispute.messages.select_related("author")
    ]
    evidence = list(dispute.evidence.all())
    return {
        "id": dispute.pk,
        "status": dispute.status,
        "open": dispute.status == Dispute.Status.OPEN,
        "outcome": dispute.outcome,
        "resolution": dispute.resolution,
        "resolved_at": dispute.resolved_at,
        "opened_by_me": dispute.opened_by_id == user.pk,
        "messages": messages,
        "evidence": evidence,
    }


def evidence_get(*, evidence_id: int, user) -> DisputeEvidence | None:
    """An evidence file `user` may read: a party of its swap, or staff."""
    found = DisputeEvidence.objects.select_related("dispute__swap").filter(pk=evidence_id).first()
    if found is None:
        return None
    swap = found.dispute.swap
    if user.is_staff or swap.role_of(user) is not None:
        return found
    return None
