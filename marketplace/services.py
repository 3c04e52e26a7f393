"""Every write to listings. Each service runs in a transaction and locks the row it changes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ErrorDetail, ValidationError

from accounts.models import User
from accounts.selectors import suspended_until, wallet_list
from chains.models import Asset
from chains.selectors import asset_get
from core.decimals import CTX, MAX_AMOUNT, decimal_places, format_plain, places
from marketplace import errors as refusals
from marketplace.cache import book_changed
from marketplace.models import Listing
from marketplace.selectors import band_rate, listing_take_refusal
from oracle.selectors import pair_is_tradeable, price_pair

logger = logging.getLogger(__name__)

State = Listing.State


def _locked(listing_id: int) -> Listing:
    """The listing row, locked until the end of the transaction (its assets joined, unlocked).

    Every change to a listing locks it here first, so this also marks the cached offer-book
    reads out of date once the transaction commits (``marketplace.cache``)."""
    book_changed()
    try:
        return (
            Listing.objects.select_for_update(of=("self",))
            .select_related("base_asset", "quote_asset")
            .get(pk=listing_id)
        )
    except Listing.DoesNotExist:
        raise refusals.refuse(refusals.LISTING_NOT_FOUND) from None


@transaction.atomic
def listing_transition(*, listing_id: int, to: str, cause: str = "") -> Listing:
    """Move a listing to state `to`: the only writer of ``Listing.state``.

    Locks the row; refuses a move not in ``Listing.TRANSITIONS`` with ``ListingError``
    ``invalid_transition`` (409); a move to the current state is a no-op. Safe inside an
    outer transaction (it then keeps the lock until the outer one ends).
    """
    listing = _locked(listing_id)
    old = listing.state
    if old == to:
        return listing
    if not listing.can_move_to(to):
        raise refusals.refuse(refusals.INVALID_TRANSITION, old=old, new=to)
    now = timezone.now()
    updated = Listing.objects.filter(pk=listing.pk, state=old).update(state=to, updated_at=now)
    if updated != 1:  # unreachable under the row lock; kept as a guard against a lost update
        raise refusals.refuse(refusals.CONFLICT)
    listing.state, listing.updated_at = to, now
    logger.info(
        "listing state changed",
        extra={"listing": listing.pk, "from": old, "to": to, "cause": cause},
    )
    return listing


@transaction.atomic
def listing_reserve(*, listing_id: int, taker: User, amount: Decimal) -> Listing:
    """Reserve `amount` (base units) of a listing for `taker`'s swap.

    Locks the listing row (``SELECT ... FOR UPDATE``), so concurrent reservations queue and
    none can sell the same amount twice; safe inside the caller's transaction (a savepoint).
    Decrements ``remaining``; when it reaches 0 the listing becomes ``sold_out``.
    A trade below ``min_trade`` is allowed only when it takes everything that remains.

    Raises ``ListingError``: ``listing_unavailable`` (409; not active, hidden, deleted,
    expired), ``own_listing``, ``amount_not_positive``, ``too_many_decimals``,
    ``amount_below_minimum``, ``amount_above_maximum`` (400), ``insufficient_remaining`` (409).
    """
    listing = _locked(listing_id)
    refused = listing_take_refusal(listing=listing, taker=taker, amount=amount)
    if refused is not None:
        refusal, params = refused
        raise refusals.refuse(refusal, **params)
    listing.remaining = CTX.subtract(listing.remaining, amount)
    listing.save(update_fields=["remaining", "updated_at"])
    if listing.remaining == 0:
        listing.state = listing_transition(
            listing_id=listing.pk, to=State.SOLD_OUT, cause="reserved"
        ).state
    return listing


@transaction.atomic
def listing_release(*, listing_id: int, amount: Decimal) -> Listing:
    """Give back `amount` reserved by a swap that was cancelled, expired or refunded.

    Locks the row; safe inside the caller's transaction. ``remaining`` never exceeds
    ``amount`` (an over-release is clamped and logged). A ``sold_out`` listing becomes
    ``active`` again, or ``expired`` when its expiry has passed; other states are kept.

    Raises ``ListingError`` ``amount_not_positive`` (400) for a non-positive amount.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise refusals.refuse(refusals.AMOUNT_NOT_POSITIVE)
    listing = _locked(listing_id)
    restored = CTX.add(listing.remaining, amount)
    if restored > listing.amount:
        logger.warning(
            "listing release above its amount; clamped",
            extra={"listing": listing.pk, "amount": str(amount)},
        )
        restored = listing.amount
    listing.remaining = restored
    listing.save(update_fields=["remaining", "updated_at"])
    if listing.state == State.SOLD_OUT and listing.remaining > 0:
        to = State.EXPIRED if listing.is_past_expiry() else State.ACTIVE
        listing.state = listing_transition(listing_id=listing.pk, to=to, cause="released").state
    return listing


# --------------------------------------------------------------------------- create / edit

# Fields a maker may change after creation (the pair is fixed for the listing's life).
EDITABLE = frozenset(
    {
        "amount",
        "min_trade",
        "max_trade",
        "price",
        "price_margin_pct",
        "price_floor",
        "price_ceiling",
        "payout_address",
        "refund_address",
        "terms",
        "expires_at",
    }
)
# States a maker may ask for; sold_out and expired are reached by the system only.
MAKER_TARGETS = frozenset({State.ACTIVE, State.PAUSED, State.CANCELLED})
# Margins are percentages over the oracle price: -100 % would be a free gift.
MARGIN_MIN = Decimal("-99.9999")
MARGIN_MAX = Decimal("1000")
MARGIN_PLACES = 4


class _Errors:
    """Field errors collected over a whole input, raised at once as one ``ValidationError``."""

    def __init__(self) -> None:
        self.fields: dict[str, list[ErrorDetail]] = {}

    def add(self, field: str, message: object, code: str) -> None:
        self.fields.setdefault(field, []).append(ErrorDetail(str(message), code=code))

    def has(self, field: str) -> bool:
        return field in self.fields

    def raise_any(self) -> None:
        if self.fields:
            raise ValidationError(self.fields)


def _check_amount(errors: _Errors, field: str, value: Decimal | None, allowed: int) -> None:
    if value is None:
        errors.add(field, _("This field is required."), "required")
    elif not isinstance(value, Decimal) or not value.is_finite():
        errors.add(field, _("Enter a decimal number."), "invalid_decimal")
    elif value <= 0:
        errors.add(field, _("Must be more than zero."), "amount_not_positive")
    elif decimal_places(value) > allowed:
        errors.add(
            field,
            _("At most %(places)d decimal places for this asset.") % {"places": allowed},
            "too_many_decimals",
        )
    elif value > MAX_AMOUNT:
        errors.add(field, _("This number is too large."), "amount_too_large")


def _validate(
    *,
    maker: User,
    data: dict[str, Any],
    listing: Listing | None,
    now: datetime,
    check_expiry: bool = True,
    check_pair: bool = True,
    check_band: bool = True,
) -> tuple[Asset, Asset]:
    """Check a whole listing (new values merged over the old); raise every field error.

    Normalises ``data`` in place: linked addresses take their stored spelling.
    """
    errors = _Errors()
    if listing is None:
        base = asset_get(data["base_asset_id"]) if data.get("base_asset_id") else None
        quote = asset_get(data["quote_asset_id"]) if data.get("quote_asset_id") else None
        if base is None:
            errors.add("base_asset", _("Unknown or disabled asset."), "unknown_asset")
        if quote is None:
            errors.add("quote_asset", _("Unknown or disabled asset."), "unknown_asset")
        if base is not None and quote is not None and base.pk == quote.pk:
            errors.add("quote_asset", _("Choose a different asset to sell for."), "same_asset")
        errors.raise_any()
        assert base is not None and quote is not None
    else:
        base, quote = listing.base_asset, listing.quote_asset
    base_places, quote_places = places(base.decimals), places(quote.decimals)

    for field in ("amount", "min_trade", "max_trade"):
        _check_amount(errors, field, data.get(field), base_places)
    if not errors.has("min_trade") and not errors.has("max_trade"):
        if data["min_trade"] > data["max_trade"]:
            errors.add(
                "min_trade",
                _("The minimum per trade is above the maximum."),
                "min_above_max",
            )
        elif not errors.has("amount") and data["max_trade"] > data["amount"]:
            errors.add(
                "max_trade", _("The maximum per trade is above the amount."), "max_above_amount"
            )
    if listing is not None and not errors.has("amount"):
        reserved = CTX.subtract(listing.amount, listing.remaining)
        if data["amount"] <= reserved:
            errors.add(
                "amount",
                _("Swaps in progress hold %(reserved)s; the amount must be more.")
                % {"reserved": format_plain(reserved)},
                "amount_below_reserved",
            )

    price, margin = data.get("price"), data.get("price_margin_pct")
    if price is None and margin is None:
        errors.add("price", _("Give a fixed price or a margin over the market."), "price_required")
    elif price is not None and margin is not None:
        errors.add("price", _("Give either a fixed price or a margin, not both."), "price_conflict")
    elif price is not None:
        _check_amount(errors, "price", price, quote_places)
        rate = (
            band_rate(base=base, quote=quote, price=price)
            if check_band and not errors.has("price")
            else None
        )
        if rate is not None:
            errors.add(
                "price",
                _(
                    "The price is more than %(band)s%% away from the market rate "
                    "(%(rate)s %(quote)s per %(base)s)."
                )
                % {
                    "band": settings.LISTING_MAX_PRICE_DEVIATION_PCT,
                    "rate": format_plain(rate, quote.decimals),
                    "quote": quote.symbol,
                    "base": base.symbol,
                },
                "price_out_of_band",
            )
        for bound in ("price_floor", "price_ceiling"):
            if data.get(bound) is not None:
                errors.add(
                    bound, _("A floor or ceiling needs a market margin."), "bound_without_margin"
                )
    else:
        if not isinstance(margin, Decimal) or not margin.is_finite():
            errors.add("price_margin_pct", _("Enter a decimal number."), "invalid_decimal")
        elif decimal_places(margin) > MARGIN_PLACES:
            errors.add(
                "price_margin_pct",
                _("At most %(places)d decimal places.") % {"places": MARGIN_PLACES},
                "too_many_decimals",
            )
        elif not MARGIN_MIN <= margin <= MARGIN_MAX:
            errors.add(
                "price_margin_pct",
                _("The margin must be between %(low)s and %(high)s percent.")
                % {"low": MARGIN_MIN, "high": MARGIN_MAX},
                "margin_out_of_range",
            )
        floor, ceiling = data.get("price_floor"), data.get("price_ceiling")
        if floor is not None:
            _check_amount(errors, "price_floor", floor, quote_places)
        if ceiling is not None:
            _check_amount(errors, "price_ceiling", ceiling, quote_places)
        if (
            floor is not None
            and ceiling is not None
            and not errors.has("price_floor")
            and not errors.has("price_ceiling")
            and floor > ceiling
        ):
            errors.add("price_floor", _("The floor is above the ceiling."), "floor_above_ceiling")
        if (
            check_pair
            and not errors.has("price_margin_pct")
            and not pair_is_tradeable(price_pair(base.priced_as, quote.priced_as))
        ):
            errors.add(
                "price_margin_pct",
                _("The market price of this pair is unavailable; give a fixed price."),
                "pair_not_tradeable",
            )

    linked = {w.address.lower(): w.address for w in wallet_list(user=maker)}
    for field in ("payout_address", "refund_address"):
        address = (data.get(field) or "").strip()
        if not address:
            errors.add(field, _("This field is required."), "required")
        elif address.lower() not in linked:
            errors.add(field, _("Use an address linked to your account."), "address_not_linked")
        else:
            data[field] = linked[address.lower()]

    terms = data.get("terms") or ""
    if len(terms) > settings.MARKETPLACE_TERMS_MAX_LENGTH:
        errors.add(
            "terms",
            _("At most %(n)d characters.") % {"n": settings.MARKETPLACE_TERMS_MAX_LENGTH},
            "terms_too_long",
        )
    data["terms"] = terms.strip()
    expires_at = data.get("expires_at")
    if check_expiry and expires_at is not None and expires_at <= now:
        errors.add("expires_at", _("The expiry must be in the future."), "expiry_in_past")
    errors.raise_any()
    return base, quote


@transaction.atomic
def listing_create(
    *,
    maker: User,
    base_asset_id: int,
    quote_asset_id: int,
    amount: Decimal,
    min_trade: Decimal,
    max_trade: Decimal,
    payout_address: str,
    refund_address: str,
    price: Decimal | None = None,
    price_margin_pct: Decimal | None = None,
    price_floor: Decimal | None = None,
    price_ceiling: Decimal | None = None,
    terms: str = "",
    expires_at: datetime | None = None,
    draft: bool = False,
) -> Listing:
    """Publish a listing (``active``), or keep it as a ``draft`` to publish later.

    The price is fixed (``price``, quote per base) or market-relative
    (``price_margin_pct`` with an optional floor and ceiling; the oracle must be quoting
    the pair now). Payout and refund addresses must be wallets linked to `maker`.

    Raises ``ValidationError`` with every field error and its code: ``unknown_asset``,
    ``same_asset``, ``amount_not_positive``, ``too_many_decimals``, ``amount_too_large``,
    ``min_above_max``, ``max_above_amount``, ``price_required``, ``price_conflict``,
    ``bound_without_margin``, ``margin_out_of_range``, ``floor_above_ceiling``,
    ``pair_not_tradeable``, ``price_out_of_band`` (a fixed price more than
    ``LISTING_MAX_PRICE_DEVIATION_PCT`` from the oracle's rate), ``address_not_linked``,
    ``terms_too_long``, ``expiry_in_past``; ``ListingError`` ``suspended`` (403) when the
    maker is suspended for faults and asks to publish.
    """
    if not draft:
        _refuse_if_suspended(maker)
    data: dict[str, Any] = {
        "base_asset_id": base_asset_id,
        "quote_asset_id": quote_asset_id,
        "amount": amount,
        "min_trade": min_trade,
        "max_trade": max_trade,
        "price": price,
        "price_margin_pct": price_margin_pct,
        "price_floor": price_floor,
        "price_ceiling": price_ceiling,
        "payout_address": payout_address,
        "refund_address": refund_address,
        "terms": terms,
        "expires_at": expires_at,
    }
    base, quote = _validate(maker=maker, data=data, listing=None, now=timezone.now())
    del data["base_asset_id"], data["quote_asset_id"]
    # The one place a state is set without listing_transition: the row is being born.
    listing = Listing.objects.create(
        maker=maker,
        base_asset=base,
        quote_asset=quote,
        remaining=data["amount"],
        state=State.DRAFT if draft else State.ACTIVE,
        **data,
    )
    book_changed()
    logger.info("listing created", extra={"listing": listing.pk, "maker": maker.pk})
    return listing


def _own_locked(listing_id: int, maker: User) -> Listing:
    listing = _locked(listing_id)
    if listing.deleted_at is not None:
        raise refusals.refuse(refusals.LISTING_NOT_FOUND)
    if listing.maker_id != maker.pk:
        raise refusals.refuse(refusals.NOT_LISTING_MAKER)
    return listing


def _closed(listing: Listing) -> bool:
    return not Listing.TRANSITIONS[listing.state]


@transaction.atomic
def listing_update(
    *, listing_id: int, maker: User, changes: Mapping[str, Any], state: str | None = None
) -> Listing:
    """Change a listing's terms (only the keys in `changes`) and/or ask for a new `state`.

    Locks the row. Only the maker may do it (``not_listing_maker``, 403); a deleted listing
    is ``listing_not_found`` (404); an expired or cancelled one is ``listing_closed`` (409).
    Giving a fixed price clears the margin and its bounds, and the other way round.
    The new amount must exceed what running swaps hold; ``remaining`` moves with it.
    `state` may be ``active`` (publish or resume), ``paused`` or ``cancelled``.

    Raises ``ValidationError`` with the field codes of ``listing_create`` (plus
    ``amount_below_reserved``, ``immutable_field``, ``invalid_state``), ``ListingError``
    ``invalid_transition`` or ``listing_expired`` (409).
    """
    listing = _own_locked(listing_id, maker)
    if _closed(listing):
        raise refusals.refuse(refusals.LISTING_CLOSED)
    unknown = set(changes) - EDITABLE
    if unknown:
        errors = _Errors()
        for field in sorted(unknown):
            errors.add(field, _("This field cannot be changed."), "immutable_field")
        errors.raise_any()
    if state is not None and state not in MAKER_TARGETS:
        raise ValidationError(
            {"state": [ErrorDetail(str(_("Choose active, paused or cancelled.")), "invalid_state")]}
        )
    if changes:
        data = {field: getattr(listing, field) for field in EDITABLE}
        data.update(changes)
        if changes.get("price") is not None and "price_margin_pct" not in changes:
            data.update(price_margin_pct=None, price_floor=None, price_ceiling=None)
        if changes.get("price_margin_pct") is not None and "price" not in changes:
            data["price"] = None
        _validate(
            maker=maker,
            data=data,
            listing=listing,
            now=timezone.now(),
            check_expiry="expires_at" in changes,
            check_pair="price_margin_pct" in changes,
            check_band="price" in changes,
        )
        reserved = CTX.subtract(listing.amount, listing.remaining)
        for field in EDITABLE:
            setattr(listing, field, data[field])
        listing.remaining = CTX.subtract(listing.amount, reserved)
        listing.save(update_fields=[*sorted(EDITABLE), "remaining", "updated_at"])
        if listing.state == State.SOLD_OUT and listing.remaining > 0:
            listing.state = listing_transition(
                listing_id=listing.pk, to=State.ACTIVE, cause="amount_raised"
            ).state
    if state is not None and state != listing.state:
        if state == State.ACTIVE and listing.is_past_expiry():
            raise refusals.refuse(refusals.LISTING_EXPIRED)
        if state == State.ACTIVE:
            _refuse_if_suspended(maker)
        listing.state = listing_transition(listing_id=listing.pk, to=state, cause="maker").state
    return listing


def _refuse_if_suspended(maker: User) -> None:
    until = suspended_until(maker)
    if until is not None:
        raise refusals.refuse(refusals.SUSPENDED, until=until.strftime("%Y-%m-%d %H:%M UTC"))


@transaction.atomic
def listings_pause_all(*, maker: User, cause: str) -> list[int]:
    """Pause every active listing of `maker` (a missed swap deadline), each through
    ``listing_transition`` under its row lock, in id order. Returns the ids paused; the
    maker resumes them by hand (``listing_update(state="active")``)."""
    ids = list(
        Listing.objects.filter(maker=maker, state=State.ACTIVE, deleted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    paused = []
    for listing_id in ids:
        if (
            listing_transition(listing_id=listing_id, to=State.PAUSED, cause=cause).state
            == State.PAUSED
        ):
            paused.append(listing_id)
    return paused


# --------------------------------------------------------------------------- delete, hide, expire


@transaction.atomic
def listing_delete(*, listing_id: int, maker: User) -> Listing:
    """Soft-delete a listing: it leaves the offer book and every page; the row stays.

    A listing that is not yet final is cancelled first. Swaps already holding part of it
    go on (their releases still restore ``remaining``, which nobody can take any more).
    Raises ``ListingError`` ``listing_not_found`` (404) or ``not_listing_maker`` (403).
    """
    listing = _own_locked(listing_id, maker)
    if not _closed(listing):
        listing.state = listing_transition(
            listing_id=listing.pk, to=State.CANCELLED, cause="deleted"
        ).state
    listing.deleted_at = timezone.now()
    listing.save(update_fields=["deleted_at", "updated_at"])
    logger.info("listing deleted", extra={"listing": listing.pk})
    return listing


@transaction.atomic
def listing_hide(*, listing_id: int, by: User, reason: str) -> Listing:
    """Moderation: hide a listing from the offer book, with a reason the maker can see.

    Its state is kept; it cannot be taken while hidden. Hiding again updates the reason.
    Raises ``ListingError`` ``reason_required`` (400).
    """
    reason = (reason or "").strip()
    if not reason:
        raise refusals.refuse(refusals.REASON_REQUIRED)
    listing = _locked(listing_id)
    listing.hidden_reason = reason[:300]
    listing.hidden_at = timezone.now()
    listing.hidden_by = by
    listing.save(update_fields=["hidden_reason", "hidden_at", "hidden_by", "updated_at"])
    logger.warning(
        "listing hidden", extra={"listing": listing.pk, "by": by.pk, "reason": reason[:300]}
    )
    return listing


@transaction.atomic
def listing_unhide(*, listing_id: int, by: User) -> Listing:
    """Moderation: put a hidden listing back in the offer book (idempotent)."""
    listing = _locked(listing_id)
    if listing.hidden_at is not None:
        listing.hidden_reason, listing.hidden_at, listing.hidden_by = "", None, None
        listing.save(update_fields=["hidden_reason", "hidden_at", "hidden_by", "updated_at"])
        logger.warning("listing unhidden", extra={"listing": listing.pk, "by": by.pk})
    return listing


EXPIRABLE = (State.DRAFT, State.ACTIVE, State.PAUSED, State.SOLD_OUT)


def listings_expire(*, now: datetime | None = None, batch: int = 500) -> int:
    """Expire every listing whose ``expires_at`` has passed (the periodic job).

    Each listing moves in its own short transaction under its row lock, rechecked there,
    so a listing resumed or re-dated meanwhile is left alone and two runs never clash.
    Returns how many listings expired.
    """
    now = now or timezone.now()
    expired = 0
    while True:
        due = list(
            Listing.objects.filter(expires_at__lte=now, state__in=EXPIRABLE)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not due:
            return expired
        for listing_id in due:
            with transaction.atomic():
                listing = _locked(listing_id)
                if listing.state in EXPIRABLE and listing.is_past_expiry(now=now):
                    listing_transition(listing_id=listing_id, to=State.EXPIRED, cause="expiry")
                    expired += 1
        if len(due) < batch:
            return expired
