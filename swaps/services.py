"""Every write of the swaps app. State changes go through ``swap_transition`` only."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from accounts import services as account_services
from accounts.models import User
from chains.interface import ChainUnavailable
from core.decimals import format_plain
from core.queue import enqueue_on_commit
from marketplace import errors as listing_errors
from marketplace import selectors as market_selectors
from marketplace import services as market_services
from oracle import selectors as oracle_selectors
from swaps import errors, machine, onchain, push, quotes, selectors
from swaps.errors import SwapError, refuse
from swaps.live import announce_on_commit, message_announce_on_commit
from swaps.models import (
    OPEN_STATES,
    RELEASING_STATES,
    REORG_ROLLBACKS,
    TERMINAL_STATES,
    TRANSITIONS,
    Dispute,
    DisputeEvidence,
    DisputeMessage,
    Notification,
    PushSubscription,
    Swap,
    SwapEvent,
    SwapFault,
    SwapMessage,
)
from swaps.onchain import Evidence

logger = logging.getLogger(__name__)
S = Swap.State
HASHLOCK_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")

__all__ = ["Evidence", "InvalidTransition", "SwapError"]


class InvalidTransition(Exception):
    """A state move not in TRANSITIONS (nor a reorg rollback)."""


# ------------------------------------------------------------------ creation


def _until(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _refuse_out_of_band(listing, rate: Decimal) -> None:
    """A fixed price that drifted outside the band cannot be taken; its maker is told (at
    most once while the notice is unread)."""
    params = {
        "listing": listing.pk,
        "rate": format_plain(rate, listing.quote_asset.decimals),
        "band": str(settings.LISTING_MAX_PRICE_DEVIATION_PCT),
    }
    with transaction.atomic():
        unread = Notification.objects.filter(
            user=listing.maker, kind="price_out_of_band", read_at__isnull=True
        ).filter(params__listing=listing.pk)
        if not unread.exists():
            _notify(
                listing.maker,
                None,
                "price_out_of_band",
                gettext_noop(
                    "Your listing #%(listing)s cannot be taken: its price is more than "
                    "%(band)s%% away from the market rate (%(rate)s). Edit its price."
                ),
                params,
            )
    raise quotes.band_refusal(listing, rate)


def swap_create(
    *, taker: User, listing_id: int, amount: Decimal, hashlock: str, taker_address: str
) -> Swap:
    """Take `amount` of a listing: reserve it and fix the swap's terms.

    Checks, each with its own code and a message naming the numbers and the way out (the
    same checks as ``swaps.quotes.swap_quote``): the hashlock's form and novelty, that the
    taker owns `taker_address`, the oracle (``pair_unpriced`` when it cannot price the pair,
    ``pair_halted`` while it halts it), a fixed price within the band
    (``price_out_of_band``), the KYC limits of both parties against the larger leg in USD,
    the taker's balances of the quote amount and of the gas for their steps
    (``insufficient_balance``, ``insufficient_gas``), a taker suspended for faults
    (``suspended``), the taker's caps on open and on unlocked swaps; the listing itself
    refuses what it cannot sell (see ``marketplace.services.listing_reserve``). Takes the
    taker's user row lock (the caps) and then the listing's. The maker is notified on
    commit. Reads the oracle once (``oracle.selectors.one_read``).

    Raises SwapError or marketplace ListingError.
    """
    if not isinstance(hashlock, str) or not HASHLOCK_RE.match(hashlock):
        raise refuse(errors.INVALID_HASHLOCK)
    # Every check below prices from one read of the oracle: one consistent view, one query.
    with oracle_selectors.one_read():
        return _swap_create(
            taker=taker,
            listing_id=listing_id,
            amount=amount,
            hashlock=hashlock.lower(),
            taker_address=taker_address,
        )


def _swap_create(
    *, taker: User, listing_id: int, amount: Decimal, hashlock: str, taker_address: str
) -> Swap:
    quotes.check_address(taker=taker, taker_address=taker_address)
    if market_selectors.listing_get(listing_id=listing_id) is None:
        raise refuse(errors.LISTING_NOT_FOUND)
    if Swap.objects.filter(hashlock=hashlock).exists():
        raise refuse(errors.HASHLOCK_REUSED)
    terms = quotes.take_terms(listing_id=listing_id, amount=amount)
    listing = terms.listing
    rate = quotes.out_of_band_rate(listing)
    if rate is not None:
        _refuse_out_of_band(listing, rate)
    for problem in quotes.limit_refusals(terms=terms, taker=taker):
        raise problem
    _fees, funds = quotes.fees_and_funds(terms=terms, address=taker_address)
    for problem in quotes.funds_refusals(funds=funds, address=taker_address):
        raise problem
    try:
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=taker.pk).first()
            standing = quotes.standing_refusal(taker=taker)
            if standing is not None:
                raise standing
            try:
                listing = market_services.listing_reserve(
                    listing_id=listing_id, taker=taker, amount=amount
                )
            except listing_errors.ListingError as exc:
                raise quotes.explain(exc, listing=listing, amount=amount) from exc
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
                value_usd=terms.value_usd,
                hashlock=hashlock,
                taker_address=taker_address,
                taker_refund_address=taker_address,
                maker_payout_address=listing.payout_address,
                maker_refund_address=listing.refund_address,
                taker_timelock=terms.taker_timelock,
                maker_timelock=terms.maker_timelock,
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
            announce_on_commit(swap.pk, swap.state)
    except IntegrityError as exc:  # a concurrent request used the same hashlock
        raise refuse(errors.HASHLOCK_REUSED) from exc
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
    announce: bool = True,
) -> Swap:
    """The one writer of ``Swap.state``.

    Locks the swap row, refuses a move not in TRANSITIONS (or, with cause "reorg", not a
    REORG_ROLLBACKS step) with InvalidTransition, updates conditionally on the old state,
    records a SwapEvent with the evidence, and on leaving for a terminal state releases the
    listing's reservation (if the base asset was not sold) and refreshes both parties'
    reputation. With `announce` (the default) the parties are notified of the new state and
    live subscribers told on commit; a caller walking several steps in one pass announces
    only the state it ends in (``swap_announce``).
    """
    evidence = evidence or Evidence()
    with transaction.atomic():
        swap = Swap.objects.select_for_update().get(pk=swap_id)
        old = swap.state
        legal = to in TRANSITIONS[old] or (cause == "reorg" and REORG_ROLLBACKS.get(old) == to)
        if not legal:
            raise InvalidTransition(f"{old} -> {to}")
        now = timezone.now()
        others = {"state_changed_at": now, "updated_at": now, **(fields or {})}
        if "state" in others:
            raise ValueError("the state is `to`, never one of `fields`")
        updated = Swap.objects.filter(pk=swap.pk, state=old).update(state=to, **others)
        if updated != 1:  # cannot happen under the row lock; refuse rather than guess
            raise InvalidTransition(f"{old} -> {to}: state changed underneath")
        swap.state = to
        for name, value in others.items():
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
        if announce:
            swap_announce(swap=swap)
    return swap


def swap_announce(*, swap: Swap) -> None:
    """Tell the parties that `swap` is now in its current state: the notice that state
    calls for (in-app, and e-mail on commit) and, on commit, the live subscribers. Called
    inside the transaction that reached the state."""
    _notify_step(swap)
    announce_on_commit(swap.pk, swap.state)


_STEP_NOTICES: dict[str, tuple[str, str, str]] = {
    S.TAKER_LOCKED: (
        "maker",
        "lock",
        gettext_noop("The buyer locked their payment: lock your side by %(deadline)s."),
    ),
    S.MAKER_LOCKED: (
        "taker",
        "redeem",
        gettext_noop("The seller locked: redeem your coins by %(deadline)s."),
    ),
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
    deadlines: dict[str, datetime | None] = {
        S.TAKER_LOCKED: swap.maker_deadline,
        S.MAKER_LOCKED: swap.taker_redeem_deadline,
    }
    deadline = deadlines.get(swap.state)
    params = {"deadline": _until(deadline)} if deadline is not None else None
    for user in users:
        _notify(user, swap, kind, message, params)


# Notices that ask the person to do something (or answer them): also pushed to their
# browsers. The rest stay in the page, the badge and the mail.
PUSH_KINDS = {
    "taken",
    "lock",
    "redeem",
    "maker_deadline_soon",
    "redeem_deadline_soon",
    "deadline_missed",
    "other_missed_deadline",
    "message",
    "dispute_opened",
    "dispute_message",
    "dispute_staff_reply",
    "dispute_resolved",
    "price_out_of_band",
}


def _notify(
    user: User,
    swap: Swap | None,
    kind: str,
    message: str,
    params: dict | None = None,
    *,
    link: str = "",
) -> None:
    """An in-app notice now, and an e-mail on commit when the user has an address.

    `message` is stored in English (marked with gettext_noop) and translated when shown or
    mailed, into the reader's language, then filled with `params`."""
    note = Notification.objects.create(
        user=user, swap=swap, kind=kind, message=message, params=params or {}, link=link
    )
    if not user.is_active:
        return
    # Mail only to an address its owner confirmed (allauth), also for a wallet-only account
    # that added one later; push only for notices that need the person to act.
    if selectors.verified_email(user=user):
        enqueue_on_commit("swaps.send_notification_email", note.pk)
    if kind in PUSH_KINDS and push.enabled() and user.push_subscriptions.exists():
        enqueue_on_commit("swaps.send_notification_push", note.pk)


def notice_create(*, user: User, kind: str, message: str, params: dict, link: str) -> None:
    """A notice from another app (``accounts.notices.notify``; registered in ``ready()``),
    opening `link`: stored, mailed and pushed as a swap's. The same notice (user, kind, link
    and params) is stored once, so a retried task tells nobody twice."""
    if Notification.objects.filter(user=user, kind=kind, link=link, params=params).exists():
        return
    _notify(user, None, kind, message, params, link=link)


# ------------------------------------------------------------------ chain facts


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
        sides = machine.classify(onchain.terms(swap), onchain.lock_facts(swap.hashlock))
        target = machine.target_state(sides)
        fields: dict[str, object] = {
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
                fields["updated_at"] = timezone.now()  # cached views key on it
                Swap.objects.filter(pk=swap.pk).update(**fields)
                for name, value in fields.items():
                    setattr(swap, name, value)
            return swap
        rollback = machine.is_rollback(swap.state, target)
        steps_times = onchain.schedule_for(swap)
        for step in steps:
            # Each step is recorded with its evidence; only the state the pass ends in is
            # announced (no "lock your side now" for a maker whose lock is already seen).
            cause, evidence = (
                ("reorg", Evidence()) if rollback else onchain.step_evidence(step, sides)
            )
            swap = swap_transition(
                swap_id=swap.pk,
                to=step,
                cause=cause,
                evidence=evidence,
                fields={**fields, **_deadlines(step, rollback=rollback, times=steps_times)},
                announce=False,
            )
        if swap.state == S.FLAGGED and sides.flag and not rollback:
            role = sides.flag.split("_", 1)[0]  # taker_lock_amount → the taker's own lock
            _fault(swap, SwapFault.Kind.BAD_LOCK, role)
        swap_announce(swap=swap)
        return swap


def _deadlines(step: str, *, rollback: bool, times: onchain.Schedule | None) -> dict:
    """The deadline a step starts (counted from now, when its lock is seen confirmed), or
    the one a reorg's step back undoes."""
    if rollback:
        undone: dict[str, str] = {
            S.CREATED: "maker_deadline",
            S.TAKER_LOCKED: "taker_redeem_deadline",
        }
        return {undone[step]: None} if step in undone else {}
    if times is None:
        return {}
    now = timezone.now()
    if step == S.TAKER_LOCKED:
        return {"maker_deadline": now + timedelta(seconds=times.maker_response)}
    if step == S.MAKER_LOCKED:
        return {"taker_redeem_deadline": now + timedelta(seconds=times.taker_redeem)}
    return {}


def _fault(swap: Swap, kind: str, role: str) -> bool:
    """Record that `role` failed `swap` (once per kind): a ``SwapFault``, a line in the
    swap's history naming the party, and their reputation (which may suspend them).
    The other party's record is untouched. Call inside the transaction that holds the
    swap's row lock. Returns whether it was new."""
    user = swap.taker if role == "taker" else swap.maker
    _, created = SwapFault.objects.get_or_create(
        swap=swap, kind=kind, defaults={"user": user, "role": role, "created_at": timezone.now()}
    )
    if not created:
        return False
    SwapEvent.objects.create(
        swap=swap, from_state=swap.state, to_state=swap.state, cause=f"fault:{kind}", actor=user
    )
    reputation_refresh(user=user)
    logger.info("swap fault", extra={"swap": str(swap.pk), "kind": kind, "role": role})
    return True


# ------------------------------------------------------------------ people's moves


def swap_cancel(*, swap_id, user: User) -> Swap:
    """The taker cancels a swap nobody has locked for; the listing gets its amount back.

    Refused (code) for: someone else's swap (404 ``not_found``), the maker
    (``only_taker_can_cancel``: a maker could otherwise strand a taker's lock in flight),
    any state but created (``not_cancellable``), or a taker lock that is already on chain
    even if not yet confirmed (``lock_exists``, asked of the chain by its deterministic id).
    """
    swap = Swap.objects.select_related("base_asset", "quote_asset").filter(pk=swap_id).first()
    if swap is None or swap.role_of(user) is None:
        raise refuse(errors.NOT_FOUND)
    if swap.role_of(user) != "taker":
        raise refuse(errors.ONLY_TAKER_CAN_CANCEL)
    if swap.state != S.CREATED:
        raise refuse(errors.NOT_CANCELLABLE)
    if onchain.network(swap.quote_asset.network) is not None:
        try:
            sent = onchain.lock_sent(swap, onchain.TAKER)
        except ChainUnavailable as exc:
            raise refuse(errors.CANCEL_CHAIN_UNAVAILABLE) from exc
        if sent:
            raise refuse(errors.LOCK_EXISTS)
    try:
        return swap_transition(swap_id=swap.pk, to=S.CANCELLED, cause="cancelled", actor=user)
    except InvalidTransition as exc:
        raise refuse(errors.NOT_CANCELLABLE) from exc


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
        if swap.state != S.CREATED:
            continue
        try:
            with transaction.atomic():
                swap = swap_transition(swap_id=swap_id, to=S.EXPIRED, cause="quote_window_passed")
                _fault(swap, SwapFault.Kind.ABANDONED, "taker")
            expired += 1
        except InvalidTransition:
            pass  # moved on concurrently
    return expired


_DEADLINE_SOON: dict[str, tuple[str, str, str, str]] = {
    # state: (deadline field, the party who must act, notice kind, message)
    S.TAKER_LOCKED: (
        "maker_deadline",
        "maker",
        "maker_deadline_soon",
        gettext_noop("Lock your side of the swap by %(deadline)s, or it counts against you."),
    ),
    S.MAKER_LOCKED: (
        "taker_redeem_deadline",
        "taker",
        "redeem_deadline_soon",
        gettext_noop("Redeem your coins by %(deadline)s, or it counts against you."),
    ),
}


def swaps_deadlines_check(*, now=None) -> tuple[int, int]:
    """Tell the party who must act when a deadline comes near (its last third), and record
    the fault when it passes: a maker who has not locked by ``maker_deadline`` (their
    active listings are paused), a taker who has not redeemed by ``taker_redeem_deadline``.
    Both parties are told. Nothing is forced on chain: a late lock is still honoured and
    refunds go by the timelocks. Each swap is reconciled first, so a step that did happen
    is never called missed. Idempotent. Returns (reminders sent, faults recorded)."""
    now = now or timezone.now()
    reminded = faulted = 0
    for state, (field, role, kind, message) in _DEADLINE_SOON.items():
        due = Swap.objects.filter(state=state, **{f"{field}__isnull": False})
        for swap_id in due.values_list("pk", flat=True):
            swap = swap_reconcile(swap_id=swap_id)
            if swap.state != state:
                continue
            deadline = getattr(swap, field)
            if deadline <= now:
                faulted += _deadline_missed(swap_id=swap_id, state=state)
            elif _deadline_near(swap, deadline, now) and _remind(swap, role, kind, message):
                reminded += 1
    return reminded, faulted


def _deadline_near(swap: Swap, deadline, now) -> bool:
    times = onchain.schedule_for(swap)
    if times is None:
        return False
    window = times.maker_response if swap.state == S.TAKER_LOCKED else times.taker_redeem
    return now >= deadline - timedelta(seconds=window / 3)


def _remind(swap: Swap, role: str, kind: str, message: str) -> bool:
    user = swap.taker if role == "taker" else swap.maker
    with transaction.atomic():
        Swap.objects.select_for_update().filter(pk=swap.pk).first()
        if Notification.objects.filter(swap=swap, user=user, kind=kind).exists():
            return False
        deadline = swap.maker_deadline if role == "maker" else swap.taker_redeem_deadline
        _notify(user, swap, kind, message, {"deadline": _until(deadline)})
    return True


def _deadline_missed(*, swap_id, state: str) -> int:
    with transaction.atomic():
        swap = (
            Swap.objects.select_for_update()
            .select_related("base_asset", "quote_asset", "taker", "maker")
            .get(pk=swap_id)
        )
        if swap.state != state:
            return 0
        taker_refund_at = _until(datetime.fromtimestamp(swap.taker_timelock, UTC))
        maker_refund_at = _until(datetime.fromtimestamp(swap.maker_timelock, UTC))
        if state == S.TAKER_LOCKED:
            if not _fault(swap, SwapFault.Kind.MAKER_MISSED_DEADLINE, "maker"):
                return 0
            paused = market_services.listings_pause_all(maker=swap.maker, cause="missed_deadline")
            _notify(
                swap.maker,
                swap,
                "deadline_missed",
                gettext_noop(
                    "You did not lock in time: this counts against your reputation and your "
                    "%(paused)s active listings are paused. Resume them from My listings once "
                    "you can answer takers in time."
                ),
                {"paused": len(paused)},
            )
            _notify(
                swap.taker,
                swap,
                "other_missed_deadline",
                gettext_noop(
                    "The seller missed the deadline to lock; nothing counts against you. Your "
                    "refund is due at %(refund_at)s (the relayer sends it)."
                ),
                {"refund_at": taker_refund_at},
            )
        else:
            if not _fault(swap, SwapFault.Kind.TAKER_MISSED_REDEEM, "taker"):
                return 0
            _notify(
                swap.taker,
                swap,
                "deadline_missed",
                gettext_noop(
                    "You did not redeem in time: this counts against your reputation. You "
                    "can still redeem until %(maker_refund_at)s; after that both locks are "
                    "refunded."
                ),
                {"maker_refund_at": maker_refund_at},
            )
            _notify(
                swap.maker,
                swap,
                "other_missed_deadline",
                gettext_noop(
                    "The buyer missed the deadline to redeem; nothing counts against you. If "
                    "they never redeem, your refund is due at %(refund_at)s."
                ),
                {"refund_at": maker_refund_at},
            )
        announce_on_commit(swap.pk, swap.state)
    return 1


def swaps_sweep() -> None:
    """The periodic pass (task ``swaps.reconcile``): re-derive open swaps from chain state,
    expire those nobody locked in time, and queue the relayer's redeem again for every swap
    whose secret is public but whose taker lock is still live (its first relay was lost to
    a crash or an outage; the relayer ignores a repeat while a transaction for that lock is
    live)."""
    swaps_reconcile_open()
    swaps_expire_due()
    swaps_deadlines_check()
    for network, lock_id, preimage in selectors.swaps_awaiting_relay():
        enqueue_on_commit("chains.relay_redeem", network, lock_id, preimage)


def swaps_reconcile_open() -> int:
    """Re-derive every open swap from chain state (after a crash, a missed hook, a reorg)."""
    moved = 0
    for swap_id, state in Swap.objects.filter(state__in=OPEN_STATES).values_list("pk", "state"):
        if swap_reconcile(swap_id=swap_id).state != state:
            moved += 1
    return moved


# ------------------------------------------------------------------ messages and disputes


def _message_body(body: str) -> str:
    body = (body or "").strip()
    limit = settings.SWAP_MESSAGE_MAX_CHARS
    if not body:
        raise refuse(errors.MESSAGE_REQUIRED)
    if len(body) > limit:
        raise refuse(errors.MESSAGE_TOO_LONG, limit=limit, length=len(body))
    return body


def swap_message_post(*, swap: Swap, user: User, body: str) -> SwapMessage:
    """A party writes to the other party of `swap`. The other party gets a notice (one while
    an earlier one about messages on this swap is unread), and both pages get the message
    live, on commit.

    Raises ``not_found`` (not a party), ``message_required``, ``message_too_long``."""
    if swap.role_of(user) is None:
        raise refuse(errors.NOT_FOUND)
    body = _message_body(body)
    with transaction.atomic():
        message = SwapMessage.objects.create(swap=swap, author=user, body=body)
        other = swap.maker if user.pk == swap.taker_id else swap.taker
        waiting = Notification.objects.filter(
            user=other, swap=swap, kind="message", read_at__isnull=True
        )
        if not waiting.exists():
            _notify(other, swap, "message", gettext_noop("The other party wrote to you."))
        message_announce_on_commit(swap.pk, message.pk)
    return message


_EVIDENCE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def evidence_type(head: bytes, whole: bytes) -> str | None:
    """The content type of an evidence file found from its bytes (never its name), or None:
    PNG, JPEG, GIF and WebP images that Pillow can read, and PDFs with their end marker."""
    found = next((kind for magic, kind in _EVIDENCE_TYPES if head.startswith(magic)), None)
    if found is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        found = "image/webp"
    if found is None:
        return None
    if found == "application/pdf":
        return found if b"%%EOF" in whole[-2048:] else None
    try:
        from io import BytesIO

        from PIL import Image

        with Image.open(BytesIO(whole)) as image:
            image.verify()
    except Exception:  # Pillow raises many kinds for a broken image
        return None
    return found


def _evidence_checked(files) -> list[tuple[object, bytes, str]]:
    limit = settings.SWAP_EVIDENCE_MAX_BYTES
    most = settings.SWAP_EVIDENCE_MAX_FILES
    files = list(files or ())
    if len(files) > most:
        raise refuse(errors.EVIDENCE_TOO_MANY, limit=most, count=len(files))
    checked = []
    for upload in files:
        name = str(getattr(upload, "name", "file"))[:120]
        if upload.size is None or upload.size > limit:
            raise refuse(
                errors.EVIDENCE_TOO_LARGE,
                name=name,
                size=_megabytes(upload.size or 0),
                limit=_megabytes(limit),
            )
        whole = upload.read()
        upload.seek(0)
        kind = evidence_type(whole[:16], whole)
        if kind is None:
            raise refuse(errors.EVIDENCE_TYPE, name=name)
        checked.append((upload, whole, kind))
    return checked


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def dispute_open(*, swap: Swap, user: User, message: str, files=()) -> Dispute:
    """A party opens a dispute about their swap, or adds a message (and evidence files) to
    the open one. Files must be PNG, JPEG, GIF or WebP images or PDFs, by their content, at
    most ``SWAP_EVIDENCE_MAX_BYTES`` each and ``SWAP_EVIDENCE_MAX_FILES`` per message; they
    are stored privately (``SWAP_EVIDENCE_ROOT``). The other party is told.

    Raises ``not_found``, ``message_required``, ``message_too_long``, ``dispute_resolved``,
    ``evidence_too_many``, ``evidence_too_large``, ``evidence_type``."""
    if swap.role_of(user) is None:
        raise refuse(errors.NOT_FOUND)
    message = _message_body(message)
    checked = _evidence_checked(files)
    with transaction.atomic():
        dispute, created = Dispute.objects.select_for_update().get_or_create(
            swap=swap, defaults={"opened_by": user}
        )
        if not created and dispute.status != Dispute.Status.OPEN:
            raise refuse(errors.DISPUTE_RESOLVED)
        DisputeMessage.objects.create(dispute=dispute, author=user, body=message)
        for upload, whole, kind in checked:
            DisputeEvidence.objects.create(
                dispute=dispute,
                uploaded_by=user,
                file=upload,
                name=str(getattr(upload, "name", "file"))[:120],
                content_type=kind,
                size=len(whole),
                sha256=hashlib.sha256(whole).hexdigest(),
            )
        other = swap.maker if user.pk == swap.taker_id else swap.taker
        if created:
            reputation_refresh(user=user)
            _notify(
                other, swap, "dispute_opened", gettext_noop("The other party opened a dispute.")
            )
        else:
            _notify(
                other,
                swap,
                "dispute_message",
                gettext_noop("The other party added to the dispute on your swap."),
            )
        message_announce_on_commit(swap.pk, None)
    return dispute


def dispute_reply(*, dispute: Dispute, staff: User, body: str) -> DisputeMessage:
    """Staff write in a dispute (from the admin); both parties are told and read it on the
    swap page. Raises ``message_required``, ``message_too_long``."""
    body = _message_body(body)
    with transaction.atomic():
        message = DisputeMessage.objects.create(dispute=dispute, author=staff, body=body)
        swap = dispute.swap
        for party in (swap.taker, swap.maker):
            _notify(
                party,
                swap,
                "dispute_staff_reply",
                gettext_noop("Staff wrote in the dispute on your swap; read it on the swap page."),
            )
        message_announce_on_commit(swap.pk, None)
    return message


# The decision as each party reads it; the reason is staff's own words.
_OUTCOME_NOTICES = {
    Dispute.Outcome.TAKER_AT_FAULT: gettext_noop(
        "Staff decided the dispute: the buyer was at fault (this counts in the buyer's "
        "reputation). Their reason: %(reason)s"
    ),
    Dispute.Outcome.MAKER_AT_FAULT: gettext_noop(
        "Staff decided the dispute: the seller was at fault (this counts in the seller's "
        "reputation). Their reason: %(reason)s"
    ),
    Dispute.Outcome.NO_FAULT: gettext_noop(
        "Staff decided the dispute: neither party was at fault. Their reason: %(reason)s"
    ),
}


def dispute_resolve(*, dispute: Dispute, staff: User, outcome: str, resolution: str) -> Dispute:
    """Staff record the outcome of a dispute and the reason; both parties are told both. No
    funds move: the contract cannot allow it."""
    if outcome not in Dispute.Outcome.values:
        raise refuse(errors.INVALID_OUTCOME)
    if not resolution.strip():
        raise refuse(errors.RESOLUTION_REQUIRED)
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update().select_related("swap").get(pk=dispute.pk)
        if dispute.status == Dispute.Status.RESOLVED:
            raise refuse(errors.DISPUTE_ALREADY_RESOLVED)
        dispute.status = Dispute.Status.RESOLVED
        dispute.outcome = outcome
        dispute.resolution = resolution.strip()
        dispute.resolved_by = staff
        dispute.resolved_at = timezone.now()
        dispute.save()
        for party in (dispute.swap.taker, dispute.swap.maker):
            reputation_refresh(user=party)
            _notify(
                party,
                dispute.swap,
                "dispute_resolved",
                _OUTCOME_NOTICES[Dispute.Outcome(outcome)],
                {"reason": dispute.resolution[:200]},
            )
        message_announce_on_commit(dispute.swap_id, None)
    return dispute


# ------------------------------------------------------------------ reputation


def reputation_refresh(*, user: User) -> None:
    """Recompute `user`'s reputation from swap, fault and dispute records and store it,
    with the end of a suspension when their faults in the last ``SWAP_FAULT_WINDOW_DAYS``
    reach ``SWAP_FAULT_SUSPEND_COUNT`` (``SWAP_FAULT_SUSPEND_HOURS`` from the latest)."""
    as_party = Q(taker=user) | Q(maker=user)
    completed = Swap.objects.filter(as_party, state=S.COMPLETED)
    volume = completed.aggregate(total=Sum("value_usd"))["total"] or Decimal("0")
    lost = Dispute.objects.filter(
        Q(swap__taker=user, outcome=Dispute.Outcome.TAKER_AT_FAULT)
        | Q(swap__maker=user, outcome=Dispute.Outcome.MAKER_AT_FAULT),
        status=Dispute.Status.RESOLVED,
    ).count()
    faults = SwapFault.objects.filter(user=user)
    failed = faults.exclude(kind=SwapFault.Kind.ABANDONED).values("swap").distinct().count()
    window_start = timezone.now() - timedelta(days=settings.SWAP_FAULT_WINDOW_DAYS)
    recent = list(
        faults.filter(created_at__gte=window_start)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: settings.SWAP_FAULT_SUSPEND_COUNT]
    )
    suspended_until = None
    if len(recent) >= settings.SWAP_FAULT_SUSPEND_COUNT:
        suspended_until = recent[0] + timedelta(hours=settings.SWAP_FAULT_SUSPEND_HOURS)
    account_services.reputation_update(
        user=user,
        completed_swaps=completed.count(),
        volume_usd=volume,
        # A refund counts against the party at fault only.
        refunded_swaps=Swap.objects.filter(state=S.REFUNDED, faults__user=user).distinct().count(),
        disputes_opened=Dispute.objects.filter(opened_by=user).count(),
        disputes_lost=lost,
        failed_swaps=failed,
        abandoned_swaps=faults.filter(kind=SwapFault.Kind.ABANDONED).count(),
        suspended_until=suspended_until,
    )


def notification_read(*, user: User, notification_id: int) -> bool:
    """Mark one of `user`'s notifications read. False when it is not theirs."""
    found = Notification.objects.filter(pk=notification_id, user=user)
    if not found.exists():
        return False
    found.filter(read_at__isnull=True).update(read_at=timezone.now())
    return True


def notification_email_send(*, notification_id: int) -> bool:
    """E-mail one notification in its reader's language, at most once: the row is locked
    and marked sent inside the transaction that sends, so a retry after a failed send tries
    again and one after a success sends nothing. Returns whether a mail went out.

    Raises ``OSError`` when the mail server cannot be reached (the task retries)."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update()
            .select_related("user")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        address = selectors.verified_email(user=note.user) if note is not None else None
        if note is None or not address:
            return False
        with translation.override(note.user.preferred_language or settings.LANGUAGE_CODE):
            text = note.text
        link = note.link or (f"/swaps/{note.swap_id}/" if note.swap_id else "/listings/mine/")
        send_mail(
            subject=f"[P2P Swap] {text}",
            message=f"{text}\n\n{settings.SITE_URL}{link}",
            from_email=None,
            recipient_list=[address],
        )
        Notification.objects.filter(pk=note.pk).update(emailed_at=timezone.now())
    return True


def notification_push_send(*, notification_id: int) -> int:
    """Push one notification to every browser its reader subscribed, in their language:
    title, text and the page to open. A subscription the push service dropped is deleted.
    Returns how many pushes were accepted. Raises ``OSError`` when no push service took it
    (the task retries; a browser that got it twice shows it once: the tag replaces it)."""
    note = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if note is None or not push.enabled():
        return 0
    with translation.override(note.user.preferred_language or settings.LANGUAGE_CODE):
        payload = {
            "title": translation.gettext("P2P Swap"),
            "body": note.text,
            "url": f"/notifications/{note.pk}/open",
            "tag": note.link or f"swap-{note.swap_id or 'listing'}-{note.kind}",
        }
    sent = 0
    failed: OSError | None = None
    for sub in PushSubscription.objects.filter(user=note.user):
        try:
            push.send(endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth, payload=payload)
        except push.Gone:
            sub.delete()
            continue
        except OSError as exc:
            PushSubscription.objects.filter(pk=sub.pk).update(failures=F("failures") + 1)
            failed = exc
            continue
        PushSubscription.objects.filter(pk=sub.pk).update(last_sent_at=timezone.now(), failures=0)
        sent += 1
    if failed is not None and not sent:
        raise failed
    return sent


def push_subscribe(*, user: User, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Store (or move to `user`) a browser's push subscription."""
    sub, _created = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth, "failures": 0}
    )
    return sub


def push_unsubscribe(*, user: User, endpoint: str) -> bool:
    """Forget `user`'s subscription at `endpoint`; False when there was none."""
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)


def notifications_read_all(*, user: User) -> int:
    """Mark every unread notification of `user` read; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
