"""Every way a swap operation is refused, defined once: services raise these, the API schema
documents them (``core.api.refusals``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.api.errors import ApiError
from core.api.refusals import Refusal


class SwapError(ApiError):
    """A refused swap operation; ``code`` is stable for clients."""


def refuse(refusal: Refusal, **params) -> ApiError:
    """A ``SwapError`` for `refusal` (its message's placeholders filled from `params`)."""
    return refusal.error(SwapError, **params)


NOT_FOUND = Refusal("not_found", _("Not found."), 404)
LISTING_NOT_FOUND = Refusal(
    "listing_not_found",
    _("This listing no longer exists. Go back to the offer book and choose another offer."),
    404,
)

# creation. Each message names the numbers and the way out (README, "Errors that say what
# to do"); "try again" only where waiting can help.
INVALID_AMOUNT = Refusal(
    "invalid_amount",
    _("Enter the amount as a positive number, such as 1.5 (a string in the API)."),
)
INVALID_HASHLOCK = Refusal(
    "invalid_hashlock",
    _(
        "The hashlock must be 0x and 64 hex digits (the sha256 of your secret). Reload the page "
        "so it draws a new secret."
    ),
)
HASHLOCK_REUSED = Refusal(
    "hashlock_reused",
    _(
        "This hashlock was used before; a secret is never used twice. Reload the page to draw a "
        "new one."
    ),
)
INVALID_ADDRESS = Refusal(
    "invalid_address", _("%(address)s is not an address: 0x and 40 hex digits.")
)
ADDRESS_NOT_LINKED = Refusal(
    "address_not_linked",
    _(
        "%(address)s is not one of your wallets. Link it on the Your wallets page first, or "
        "choose a wallet you linked."
    ),
)
PAIR_UNPRICED = Refusal(
    "pair_unpriced",
    _(
        "The price oracle has no price for %(pair)s, so it cannot be traded now: its limits and "
        "its price band could not be checked. Choose an offer in another market."
    ),
    409,
)
PAIR_HALTED = Refusal(
    "pair_halted",
    _(
        "Trading in %(pair)s is halted while its price is unreliable. Try again once the market "
        "price is back; the market page shows when it is."
    ),
    409,
)
PRICE_UNAVAILABLE = Refusal(
    "price_unavailable",
    _(
        "There is no USD price for %(symbol)s now, so the swap cannot be checked against the "
        "limits. Try again once the market price is back."
    ),
    409,
)
KYC_LIMIT_EXCEEDED = Refusal(
    "kyc_limit_exceeded",
    _(
        "This swap is worth %(value)s USD, above your limit of %(limit)s USD per swap at your "
        "verification level (%(level)s). Lower the amount to at most %(max_amount)s %(symbol)s, "
        "or verify your identity on the Verification page to raise your limit."
    ),
    403,
)
MAKER_KYC_LIMIT_EXCEEDED = Refusal(
    "maker_kyc_limit_exceeded",
    _(
        "This swap is worth %(value)s USD, above the seller's limit of %(limit)s USD per swap. "
        "Lower the amount to at most %(max_amount)s %(symbol)s, or choose another offer."
    ),
    403,
)
TOO_MANY_UNLOCKED_SWAPS = Refusal(
    "too_many_unlocked_swaps",
    _(
        "You already hold %(count)s swaps you have not locked yet (at most %(limit)s). Lock or "
        "cancel one of them on My swaps first."
    ),
    429,
)
SUSPENDED = Refusal(
    "suspended",
    _(
        "Your account may not take offers until %(until)s: you missed %(faults)s swap steps in "
        "the last %(days)s days. Your open swaps can still be finished."
    ),
    403,
)
TOO_MANY_OPEN_SWAPS = Refusal(
    "too_many_open_swaps",
    _(
        "You have %(count)s unfinished swaps (at most %(limit)s). Finish or cancel one on My swaps "
        "first."
    ),
    429,
)
NETWORK_UNAVAILABLE = Refusal(
    "network_unavailable",
    _(
        "The %(network)s network of this offer is not offered by this site right now. Choose "
        "another offer."
    ),
    503,
)
CHAIN_UNAVAILABLE = Refusal(
    "chain_unavailable",
    _(
        "A network of this swap cannot be reached right now. Nothing was reserved; try again in a "
        "few minutes."
    ),
    503,
)
INSUFFICIENT_BALANCE = Refusal(
    "insufficient_balance",
    _(
        "Your wallet %(address)s holds %(available)s %(symbol)s on %(network)s; this swap needs "
        "%(needed)s %(symbol)s there. Add %(missing)s %(symbol)s to it, or lower the amount."
    ),
    409,
)
INSUFFICIENT_GAS = Refusal(
    "insufficient_gas",
    _(
        "Your wallet %(address)s holds %(available)s %(symbol)s on %(network)s; the network fees "
        "of your steps there need about %(needed)s %(symbol)s. Add %(missing)s %(symbol)s to it "
        "first."
    ),
    409,
)

# cancel
ONLY_TAKER_CAN_CANCEL = Refusal(
    "only_taker_can_cancel",
    _(
        "Only the buyer can cancel a swap. As the seller, wait: the swap expires by itself if the "
        "buyer never locks."
    ),
    403,
)
NOT_CANCELLABLE = Refusal(
    "not_cancellable",
    _(
        "This swap can no longer be cancelled: a lock is on chain. Locked coins return to their "
        "owner after the timelock; the swap page shows when."
    ),
    409,
)
LOCK_EXISTS = Refusal(
    "lock_exists",
    _(
        "Your lock is already on chain, so the swap cannot be cancelled. Wait for it to confirm; "
        "if the seller never locks, it is refunded after its timelock."
    ),
    409,
)
CANCEL_CHAIN_UNAVAILABLE = Refusal(
    "chain_unavailable",
    _(
        "The network cannot be reached to check that you have not locked yet. Try again in a few "
        "minutes."
    ),
    503,
)

# messages and disputes
MESSAGE_REQUIRED = Refusal("message_required", _("Write a message first."))
MESSAGE_TOO_LONG = Refusal(
    "message_too_long", _("Keep the message under %(limit)s characters (it has %(length)s).")
)
DISPUTE_RESOLVED = Refusal(
    "dispute_resolved",
    _("Staff already decided this dispute. Write to the other party in the swap's messages."),
    409,
)
INVALID_OUTCOME = Refusal("invalid_outcome", _("Choose one of the outcomes."))
RESOLUTION_REQUIRED = Refusal(
    "resolution_required", _("Give the reason for the decision: both parties read it.")
)
DISPUTE_ALREADY_RESOLVED = Refusal("dispute_resolved", _("This dispute is already resolved."), 409)
EVIDENCE_TOO_LARGE = Refusal(
    "evidence_too_large",
    _(
        "%(name)s is %(size)s; files may be at most %(limit)s. Shrink it or send a screenshot of "
        "the part that matters."
    ),
)
EVIDENCE_TYPE = Refusal(
    "evidence_type",
    _(
        "%(name)s is not a PNG, JPEG, GIF or WebP image or a PDF (its content was checked, not its "
        "name). Save it in one of these formats."
    ),
)
EVIDENCE_TOO_MANY = Refusal(
    "evidence_too_many", _("Attach at most %(limit)s files to a dispute (%(count)s sent).")
)
NOT_A_PARTY_MESSAGE = Refusal(
    "swap_closed_for_messages",
    _("Messages can only be sent by the swap's two parties."),
    403,
)

CREATE = (
    INVALID_AMOUNT,
    INVALID_HASHLOCK,
    HASHLOCK_REUSED,
    INVALID_ADDRESS,
    ADDRESS_NOT_LINKED,
    PAIR_UNPRICED,
    PAIR_HALTED,
    PRICE_UNAVAILABLE,
    KYC_LIMIT_EXCEEDED,
    MAKER_KYC_LIMIT_EXCEEDED,
    TOO_MANY_OPEN_SWAPS,
    TOO_MANY_UNLOCKED_SWAPS,
    SUSPENDED,
    NETWORK_UNAVAILABLE,
    CHAIN_UNAVAILABLE,
    INSUFFICIENT_BALANCE,
    INSUFFICIENT_GAS,
)
CANCEL = (ONLY_TAKER_CAN_CANCEL, NOT_CANCELLABLE, LOCK_EXISTS, CANCEL_CHAIN_UNAVAILABLE)
DISPUTE = (
    MESSAGE_REQUIRED,
    MESSAGE_TOO_LONG,
    DISPUTE_RESOLVED,
    EVIDENCE_TOO_LARGE,
    EVIDENCE_TYPE,
    EVIDENCE_TOO_MANY,
)
MESSAGE = (MESSAGE_REQUIRED, MESSAGE_TOO_LONG)
# Codes a retry can cure (waiting for a chain, a price, a rate limit); every other refusal
# needs the person to change something, and its message says what.
RETRYABLE = {"chain_unavailable", "pair_halted", "price_unavailable", "throttled", "conflict"}

# The marketplace's refusals of a take (``listing_reserve``, ``listing_quote``, the band),
# said with this take's numbers and the way out; same codes and statuses as the
# marketplace's (``swaps.quotes.explain``). Placeholders: amount, symbol, min, max,
# remaining, places, quote_symbol; price, band, rate for the band.
TAKE_EXPLAINED = {
    "listing_unavailable": _(
        "This offer cannot be taken now: it is paused, sold out, expired or hidden. Choose "
        "another offer in the offer book."
    ),
    "own_listing": _("This is your own offer, so you cannot take it. Manage it on My listings."),
    "amount_not_positive": _("Enter an amount above zero, such as %(min)s %(symbol)s."),
    "too_many_decimals": _(
        "%(symbol)s amounts have at most %(places)s decimals; %(amount)s has more. Round it."
    ),
    "amount_above_maximum": _(
        "This offer sells at most %(max)s %(symbol)s per trade; you asked for %(amount)s. "
        "Lower the amount."
    ),
    "amount_below_minimum": _(
        "This offer sells at least %(min)s %(symbol)s per trade (or all that is left, "
        "%(remaining)s); you asked for %(amount)s. Raise the amount."
    ),
    "insufficient_remaining": _(
        "Only %(remaining)s %(symbol)s is left in this offer; you asked for %(amount)s. Lower "
        "the amount."
    ),
    "price_unavailable": _(
        "This offer's market price is unavailable now, so it cannot be priced. Try again once "
        "the market price is back."
    ),
    "price_out_of_band": _(
        "This offer's price (%(price)s) is more than %(band)s%% away from the market rate "
        "(%(rate)s), so it cannot be taken; its seller has been told to fix it. Choose another "
        "offer."
    ),
}
