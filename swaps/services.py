"""Every write of the swaps app. State changes go through ``swap_transition`` only."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop
from rest_framework import status

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.models import User
from chains import selectors as chain_selectors
from chains import txs
from chains.evm import ChainUnavailable
from core.api.errors import ApiError
from core.decimals import base_units
from marketplace import selectors as market_selectors
from marketplace import services as market_services
from oracle import selectors as oracle_selectors
from swaps import machine
from swaps.models import (
    OPEN_STATES,
    RELEASING_STATES,
    REORG_ROLLBACKS,
    TERMINAL_STATES,
    TRANSITIONS,
    Dispute,
    DisputeMessage,
    Notification,
    Swap,
    SwapEvent,
)

logger = logging.getLogger(__name__)
S = Swap.State
HASHLOCK_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


class SwapError(ApiError):
    """A refused swap operation; ``code`` is stable for clients."""


class InvalidTransition(Exception):
    """A state move not in TRANSITIONS (nor a reorg rollback)."""


@dataclass(frozen=True)
class Evidence:
    network: str = ""
    tx_hash: str = ""
    block: int | None = None


# ------------------------------------------------------------------ creation


def _timelocks(base_network: str, quote_network: str) -> tuple[int, int]:
    """(T1, T2): T1 on the quote network's clock, T2 = T1 - margin.

    "Now" is the latest of this server's clock and both chains' latest block times, so a
    chain running ahead never receives a timelock already in its past.
    """
    networks = [
        chain_selectors.network_get(base_network),
        chain_selectors.network_get(quote_network),
    ]
    if any(n is None for n in networks):
        raise SwapError("A network of this listing is not available.", "network_unavailable", 503)
    try:
        now = max([int(time.time())] + [txs.latest_timestamp(n) for n in networks if n])
    except ChainUnavailable as exc:
        raise SwapError(
            "A chain of this swap cannot be reached; try again shortly.", "chain_unavailable", 503
        ) from exc
    config = settings.SWAP_TIMELOCKS
    default = config.get("default", {})
    per = [config.get(n.name, default) for n in networks if n]
    lock_seconds = max(int(p.get("taker_lock_seconds", default["taker_lock_seconds"])) for p in per)
    confirm_seconds = max(n.confirmations * n.block_time for n in networks if n)
    margin = max(
        [int(p.get("margin_seconds", default["margin_seconds"])) for p in per]
        + [4 * confirm_seconds]
    )
    margin += 2 * settings.SWAP_TIMELOCK_TOLERANCE_SECONDS
    t1 = now + settings.SWAP_QUOTE_WINDOW_SECONDS + lock_seconds + margin
    return t1, t1 - margin


def _usd_value(asset_symbol: str, amount: Decimal, quote_symbol: str, quote_amount: Decimal):
    """The swap's value in USD from the oracle (base leg, else quote leg), or None."""
    for symbol, value in ((asset_symbol, amount), (quote_symbol, quote_amount)):
        agg = oracle_selectors.price_get(f"{symbol}-USD")
        if agg is not None and agg.price is not None:
            return (value * agg.price).quantize(Decimal("0.01"))
    return None


def swap_create(
    *, taker: User, listing_id: int, amount: Decimal, hashlock: str, taker_address: str
) -> Swap:
    """Take `amount` of a listing: reserve it and fix the swap's terms.

    Checks, each with its own code: the hashlock's form and novelty, that the taker owns
    `taker_address`, the oracle (no swap while the pair is halted), the KYC limits of both
    parties in USD, the taker's cap on open swaps; the listing itself refuses what it
    cannot sell (see ``marketplace.services.listing_reserve``). Takes the taker's user row
    lock (the open-swap cap) and then the listing's. The maker is notified on commit.

    Raises SwapError or marketplace ListingError.
    """
    if not isinstance(hashlock, str) or not HASHLOCK_RE.match(hashlock):
        raise SwapError(
            "hashlock must be 0x and 64 hex digits (sha256 of the secret).", "invalid_hashlock"
        )
    hashlock = hashlock.lower()
    if not isinstance(taker_address, str) or not ADDRESS_RE.match(taker_address):
        raise SwapError("taker_address is not an address.", "invalid_address")
    owner = account_selectors.wallet_owner_get(taker_address)
    if owner is None or owner.pk != taker.pk:
        raise SwapError(
            "taker_address must be a wallet linked to your account.", "address_not_linked"
        )
    listing = market_selectors.listing_get(listing_id=listing_id)
    if listing is None:
        raise SwapError("No such listing.", "listing_not_found", status.HTTP_404_NOT_FOUND)
    if Swap.objects.filter(hashlock=hashlock).exists():
        raise SwapError("This hashlock was used before; draw a new secret.", "hashlock_reused")
    if not oracle_selectors.pair_is_tradeable(listing.pair):
        raise SwapError(
            "Trading in this pair is halted while its price is unreliable.", "pair_halted", 409
        )
    t1, t2 = _timelocks(listing.base_asset.network, listing.quote_asset.network)
    quote = market_selectors.listing_quote(listing=listing, amount=amount)
    value_usd = _usd_value(
        listing.base_asset.symbol, amount, listing.quote_asset.symbol, quote.quote_amount
    )
    if value_usd is None:
        raise SwapError("No USD price to check limits against.", "price_unavailable", 409)
    if value_usd > account_selectors.kyc_limit_usd(taker):
        raise SwapError(
            "This swap is above your verification level's limit.", "kyc_limit_exceeded", 403
        )
    if value_usd > account_selectors.kyc_limit_usd(listing.maker):
        raise SwapError(
            "This swap is above the seller's verification level's limit.",
            "maker_kyc_limit_exceeded",
            403,
        )
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=taker.pk).first()
            open_count = Swap.objects.filter(taker=taker, state__in=OPEN_STATES).count()
            if open_count >= settings.SWAP_MAX_OPEN_PER_USER:
                raise SwapError(
                    "You have too many unfinished swaps; finish or cancel one first.",
                    "too_many_open_swaps",
                    429,
                )
            listing = market_services.listing_reserve(
                listing_id=listing_id, taker=taker, amount=amount
            )
            # Priced again under the listing's row lock: a price the maker changed since the
            # first read must not slip through.
            quote = market_selectors.listing_quote(listing=listing, amount=amount)
            swap = Swap.objects.create(
                listing=listing,
                maker=listing.maker,
                taker=taker,
                base_asset=listing.base_asset,
                quote_asset=listing.quote_asset,
                amount=amount,
                quote_amount=quote.quote_amount,
                price=quote.price,
                value_usd=value_usd,
                hashlock=hashlock,
                taker_address=taker_address,
                taker_refund_address=taker_address,
                maker_payout_address=listing.payout_address,
                maker_refund_address=listing.refund_address,
                taker_timelock=t1,
                maker_timelock=t2,
                quote_expires_at=timezone.now()
                + timedelta(seconds=settings.SWAP_QUOTE_WINDOW_SECONDS),
            )
            SwapEvent.objects.create(
                swap=swap, from_state=S.CREATED, to_state=S.CREATED, cause="created", actor=taker
            )
            _notify(
                swap.maker,
                swap,
                "taken",
                gettext_noop("Your listing was taken; the buyer locks first."),
            )
            _broadcast_on_commit(swap)
    except IntegrityError as exc:  # a concurrent request used the same hashlock
        raise SwapError(
            "This hashlock was used before; draw a new secret.", "hashlock_reused"
        ) from exc
    return swap


# ------------------------------------------------------------------ transitions


def swap_transition(
    *,
    swap_id,
    to: str,
    cause: str,
    evidence: Evidence | None = None,
    actor: User | None = None,
    fields: dict | None = None,
) -> Swap:
    """The one writer of ``Swap.state``.

    Locks the swap row, refuses a move not in TRANSITIONS (or, with cause "reorg", not a
    REORG_ROLLBACKS step) with InvalidTransition, updates conditionally on the old state,
    records a SwapEvent with the evidence, and on leaving for a terminal state releases the
    listing's reservation (if the base asset was not sold) and refreshes both parties'
    reputation. Notifications and the live broadcast go out on commit.
    """
    evidence = evidence or Evidence()
    with transaction.atomic():
        swap = Swap.objects.select_for_update().get(pk=swap_id)
        old = swap.state
        legal = to in TRANSITIONS[old] or (cause == "reorg" and REORG_ROLLBACKS.get(old) == to)
        if not legal:
            raise InvalidTransition(f"{old} -> {to}")
        now = timezone.now()
        changes = {"state": to, "state_changed_at": now, "updated_at": now, **(fields or {})}
        updated = Swap.objects.filter(pk=swap.pk, state=old).update(**changes)
        if updated != 1:  # cannot happen under the row lock; refuse rather than guess
            raise InvalidTransition(f"{old} -> {to}: state changed underneath")
        for name, value in changes.items():
            setattr(swap, name, value)
        SwapEvent.objects.create(
            swap=swap,
            from_state=old,
            to_state=to,
            cause=cause,
            network=evidence.network,
            tx_hash=evidence.tx_hash,
            block=evidence.block,
            actor=actor,
        )
        # After the secret went public the maker's base lock was (or will be) redeemed: the
        # amount is sold whatever happens to the taker's lock, so it is not put back.
        if to in RELEASING_STATES and old != S.SECRET_REVEALED:
            market_services.listing_release(listing_id=swap.listing_id, amount=swap.amount)
        if to in TERMINAL_STATES:
            reputation_refresh(user=swap.taker)
            reputation_refresh(user=swap.maker)
        _notify_step(swap)
        _broadcast_on_commit(swap)
    return swap


_STEP_NOTICES: dict[str, tuple[str, str, str]] = {
    S.TAKER_LOCKED: (
        "maker",
        "lock",
        gettext_noop("The buyer locked their payment: lock your side now."),
    ),
    S.MAKER_LOCKED: ("taker", "redeem", gettext_noop("The seller locked: redeem your coins now.")),
    S.COMPLETED: ("both", "completed", gettext_noop("The swap is complete.")),
    S.REFUNDED: ("both", "refunded", gettext_noop("The swap ended in refunds.")),
    S.FLAGGED: (
        "both",
        "flagged",
        gettext_noop("A lock did not match the terms; see the swap page."),
    ),
    S.EXPIRED: ("both", "expired", gettext_noop("Nobody locked in time; the swap expired.")),
}


def _notify_step(swap: Swap) -> None:
    notice = _STEP_NOTICES.get(swap.state)
    if notice is None:
        return
    who, kind, message = notice
    users = [swap.taker, swap.maker] if who == "both" else [getattr(swap, who)]
    for user in users:
        _notify(user, swap, kind, message)


def _notify(user: User, swap: Swap, kind: str, message: str) -> None:
    """An in-app notice now, and an e-mail on commit when the user has an address.

    `message` is stored in English (marked with gettext_noop) and translated when shown or mailed,
    into the reader's language."""
    note = Notification.objects.create(user=user, swap=swap, kind=kind, message=message)
    if user.email and user.is_active:
        from swaps.tasks import send_notification_email

        transaction.on_commit(partial(send_notification_email.delay, note.pk))


def _broadcast_on_commit(swap: Swap) -> None:
    from swaps.live import broadcast

    transaction.on_commit(partial(broadcast, swap.pk, swap.state))


# ------------------------------------------------------------------ chain facts


def _lower(address: str | None) -> str:
    return (address or "").lower()


def swap_terms(swap: Swap) -> machine.Terms:
    """The terms a lock must meet, in base units and lowercase addresses."""

    def wallets(user: User) -> frozenset[str]:
        return frozenset(_lower(w.address) for w in account_selectors.wallet_list(user=user))

    return machine.Terms(
        base_network=swap.base_asset.network,
        quote_network=swap.quote_asset.network,
        base_token=_lower(swap.base_asset.address) or machine.NATIVE,
        quote_token=_lower(swap.quote_asset.address) or machine.NATIVE,
        amount_units=base_units(swap.amount, swap.base_asset.decimals),
        quote_units=base_units(swap.quote_amount, swap.quote_asset.decimals),
        taker_address=_lower(swap.taker_address),
        maker_payout_address=_lower(swap.maker_payout_address),
        taker_timelock=swap.taker_timelock,
        maker_timelock=swap.maker_timelock,
        timelock_tolerance=settings.SWAP_TIMELOCK_TOLERANCE_SECONDS,
        taker_wallets=wallets(swap.taker) | {_lower(swap.taker_refund_address)},
        maker_wallets=wallets(swap.maker) | {_lower(swap.maker_refund_address)},
    )


_LOCK_STATES = {1: machine.LOCKED, 2: machine.REDEEMED, 3: machine.REFUNDED}


def lock_facts(hashlock: str) -> list[machine.LockFact]:
    """The confirmed locks carrying `hashlock`, as the watcher has recorded them."""
    return [
        machine.LockFact(
            network=row.network,
            lock_id=row.lock_id.lower(),
            token=_lower(row.token),
            sender=_lower(row.sender),
            recipient=_lower(row.recipient),
            amount=int(row.amount),
            timelock=int(row.timelock),
            state=_LOCK_STATES[row.state],
            locked_block=row.locked_block,
            preimage=row.preimage,
        )
        for row in chain_selectors.htlc_locks_with_hashlock(hashlock)
    ]


def _evidence(lock: machine.LockFact | None, event_name: str) -> Evidence:
    if lock is None:
        return Evidence()
    event = chain_selectors.chain_event_get(
        network=lock.network, lock_id=lock.lock_id, name=event_name
    )
    if event is None:
        return Evidence(network=lock.network)
    return Evidence(network=event.network, tx_hash=event.tx_hash, block=event.block_number)


def _step_evidence(state: str, sides: machine.Sides) -> tuple[str, Evidence]:
    """Why the chains put the swap in `state`, and the event that shows it."""
    taker, maker = sides.taker, sides.maker
    if state == S.TAKER_LOCKED:
        return "taker_lock_confirmed", _evidence(taker, "Locked")
    if state == S.MAKER_LOCKED:
        return "maker_lock_confirmed", _evidence(maker, "Locked")
    if state == S.SECRET_REVEALED:
        if maker is not None and maker.state == machine.REDEEMED:
            return "maker_lock_redeemed", _evidence(maker, "Redeemed")
        return "taker_lock_redeemed", _evidence(taker, "Redeemed")
    if state == S.COMPLETED:
        return "taker_lock_redeemed", _evidence(taker, "Redeemed")
    if state == S.REFUNDED:
        if taker is not None and taker.state == machine.REFUNDED:
            return "taker_lock_refunded", _evidence(taker, "Refunded")
        return "maker_lock_refunded", _evidence(maker, "Refunded")
    if state == S.FLAGGED:
        return sides.flag or "flagged", _evidence(sides.flagged_lock, "Locked")
    return state, Evidence()


def swap_reconcile(*, swap_id) -> Swap:
    """Bring a swap to the state its confirmed chain facts imply, through legal steps.

    Idempotent and order-independent: it reads the current facts (``chains``' lock table,
    kept by the watcher) rather than trusting the event that woke it, so a duplicate, a
    late or a reordered event, or a restart after a crash, all end in the same state. A
    terminal state never moves; a reorg that undoes a step steps back one state at a time.
    """
    with transaction.atomic():
        swap = (
            Swap.objects.select_for_update()
            .select_related("base_asset", "quote_asset", "taker", "maker")
            .get(pk=swap_id)
        )
        if swap.state in TERMINAL_STATES:
            return swap
        sides = machine.classify(swap_terms(swap), lock_facts(swap.hashlock))
        target = machine.target_state(sides)
        fields = {
            "taker_lock_id": sides.taker.lock_id if sides.taker else "",
            "maker_lock_id": sides.maker.lock_id if sides.maker else "",
            "preimage": next(
                (lk.preimage for lk in (sides.maker, sides.taker) if lk and lk.preimage), ""
            ),
            "flag_reason": sides.flag,
        }
        steps = machine.path(swap.state, target)
        if not steps:
            if any(getattr(swap, k) != v for k, v in fields.items()):
                Swap.objects.filter(pk=swap.pk).update(**fields)
                for name, value in fields.items():
                    setattr(swap, name, value)
            return swap
        rollback = machine.is_rollback(swap.state, target)
        for step in steps:
            if rollback:
                swap = swap_transition(swap_id=swap.pk, to=step, cause="reorg", fields=fields)
            else:
                cause, evidence = _step_evidence(step, sides)
                swap = swap_transition(
                    swap_id=swap.pk, to=step, cause=cause, evidence=evidence, fields=fields
                )
        return swap


def swaps_for_event(*, network: str, lock_id: str, hashlock: str | None) -> list:
    """Ids of swaps an HTLC event may concern: by its hashlock, else by its lock's."""
    if hashlock is None:
        lock = chain_selectors.htlc_lock_get(network=network, lock_id=lock_id)
        if lock is None:
            return []
        hashlock = lock.hashlock
    return list(Swap.objects.filter(hashlock=hashlock.lower()).values_list("pk", flat=True))


# ------------------------------------------------------------------ people's moves


def swap_cancel(*, swap_id, user: User) -> Swap:
    """The taker cancels a swap nobody has locked for; the listing gets its amount back.

    Refused (code) for: someone else's swap (404 ``not_found``), the maker
    (``only_taker_can_cancel``: a maker could otherwise strand a taker's lock in flight),
    any state but created (``not_cancellable``), or a taker lock that is already on chain
    even if not yet confirmed (``lock_exists``, asked of the chain by its deterministic id).
    """
    swap = Swap.objects.select_related("quote_asset").filter(pk=swap_id).first()
    if swap is None or swap.role_of(user) is None:
        raise SwapError("Not found.", "not_found", status.HTTP_404_NOT_FOUND)
    if swap.role_of(user) != "taker":
        raise SwapError("Only the buyer can cancel a swap.", "only_taker_can_cancel", 403)
    if swap.state != S.CREATED:
        raise SwapError(
            "Only a swap nobody has locked for can be cancelled.", "not_cancellable", 409
        )
    network = chain_selectors.network_get(swap.quote_asset.network)
    if network is not None:
        try:
            expected = txs.lock_id(
                network=network,
                token=swap.quote_asset.address,
                sender=swap.taker_refund_address,
                recipient=swap.maker_payout_address,
                amount=base_units(swap.quote_amount, swap.quote_asset.decimals),
                hashlock=swap.hashlock,
                timelock=swap.taker_timelock,
            )
            on_chain = txs.lock_state(network=network, lock_id=expected)
        except ChainUnavailable as exc:
            raise SwapError(
                "The chain cannot be reached to check for your lock; try again shortly.",
                "chain_unavailable",
                503,
            ) from exc
        if on_chain != 0:
            raise SwapError("Your lock is already on chain.", "lock_exists", 409)
    try:
        return swap_transition(swap_id=swap.pk, to=S.CANCELLED, cause="cancelled", actor=user)
    except InvalidTransition as exc:
        raise SwapError(
            "Only a swap nobody has locked for can be cancelled.", "not_cancellable", 409
        ) from exc


def swaps_expire_due(*, now=None) -> int:
    """Expire created swaps whose quote window (plus grace) passed with no confirmed lock.

    Each is reconciled first, so a lock that did confirm moves it on instead.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SWAP_EXPIRY_GRACE_SECONDS)
    expired = 0
    for swap_id in Swap.objects.filter(state=S.CREATED, quote_expires_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        swap = swap_reconcile(swap_id=swap_id)
        if swap.state == S.CREATED:
            try:
                swap_transition(swap_id=swap_id, to=S.EXPIRED, cause="quote_window_passed")
                expired += 1
            except InvalidTransition:
                pass  # moved on concurrently
    return expired


def swaps_reconcile_open() -> int:
    """Re-derive every open swap from chain state (after a crash, a missed hook, a reorg)."""
    moved = 0
    for swap_id, state in Swap.objects.filter(state__in=OPEN_STATES).values_list("pk", "state"):
        if swap_reconcile(swap_id=swap_id).state != state:
            moved += 1
    return moved


# ------------------------------------------------------------------ disputes


def dispute_open(*, swap: Swap, user: User, message: str) -> Dispute:
    """A party opens a dispute (or adds a message to the open one) about their swap."""
    message = (message or "").strip()
    if not message:
        raise SwapError("Say what went wrong.", "message_required")
    if len(message) > 4000:
        raise SwapError("Keep the message under 4000 characters.", "message_too_long")
    if swap.role_of(user) is None:
        raise SwapError("Not found.", "not_found", status.HTTP_404_NOT_FOUND)
    with transaction.atomic():
        dispute, created = Dispute.objects.select_for_update().get_or_create(
            swap=swap, defaults={"opened_by": user}
        )
        if not created and dispute.status != Dispute.Status.OPEN:
            raise SwapError("This dispute is resolved.", "dispute_resolved", 409)
        DisputeMessage.objects.create(dispute=dispute, author=user, body=message)
        if created:
            reputation_refresh(user=user)
            other = swap.maker if user.pk == swap.taker_id else swap.taker
            _notify(
                other, swap, "dispute_opened", gettext_noop("The other party opened a dispute.")
            )
    return dispute


def dispute_resolve(*, dispute: Dispute, staff: User, outcome: str, resolution: str) -> Dispute:
    """Staff record the outcome of a dispute. No funds move: the contract cannot allow it."""
    if outcome not in Dispute.Outcome.values:
        raise SwapError("Unknown outcome.", "invalid_outcome")
    if not resolution.strip():
        raise SwapError("Give the reason for the decision.", "resolution_required")
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().select_related("swap").get(pk=dispute.pk)
        if dispute.status == Dispute.Status.RESOLVED:
            raise SwapError("This dispute is already resolved.", "dispute_resolved", 409)
        dispute.status = Dispute.Status.RESOLVED
        dispute.outcome = outcome
        dispute.resolution = resolution.strip()
        dispute.resolved_by = staff
        dispute.resolved_at = timezone.now()
        dispute.save()
        for party in (dispute.swap.taker, dispute.swap.maker):
            reputation_refresh(user=party)
            _notify(
                party, dispute.swap, "dispute_resolved", gettext_noop("Staff resolved the dispute.")
            )
    return dispute


# ------------------------------------------------------------------ reputation


def reputation_refresh(*, user: User) -> None:
    """Recompute `user`'s reputation from swap and dispute records and store it."""
    as_party = Q(taker=user) | Q(maker=user)
    completed = Swap.objects.filter(as_party, state=S.COMPLETED)
    volume = completed.aggregate(total=Sum("value_usd"))["total"] or Decimal("0")
    lost = Dispute.objects.filter(
        Q(swap__taker=user, outcome=Dispute.Outcome.TAKER_AT_FAULT)
        | Q(swap__maker=user, outcome=Dispute.Outcome.MAKER_AT_FAULT),
        status=Dispute.Status.RESOLVED,
    ).count()
    account_services.reputation_update(
        user=user,
        completed_swaps=completed.count(),
        volume_usd=volume,
        refunded_swaps=Swap.objects.filter(as_party, state=S.REFUNDED).count(),
        disputes_opened=Dispute.objects.filter(opened_by=user).count(),
        disputes_lost=lost,
    )


def notification_read(*, user: User, notification_id: int) -> bool:
    """Mark one of `user`'s notifications read. False when it is not theirs."""
    found = Notification.objects.filter(pk=notification_id, user=user)
    if not found.exists():
        return False
    found.filter(read_at__isnull=True).update(read_at=timezone.now())
    return True


def notification_mark_emailed(*, notification_id: int) -> None:
    Notification.objects.filter(pk=notification_id).update(emailed_at=timezone.now())


def notifications_read_all(*, user: User) -> int:
    """Mark every unread notification of `user` read; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
