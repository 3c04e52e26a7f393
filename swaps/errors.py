"""Every way a swap operation is refused, defined once: services raise these, the API schema
documents them (``core.api.refusals``)."""

from __future__ import annotations

from core.api.errors import ApiError
from core.api.refusals import Refusal


class SwapError(ApiError):
    """A refused swap operation; ``code`` is stable for clients."""


def refuse(refusal: Refusal, **params) -> ApiError:
    """A ``SwapError`` for `refusal` (its message's placeholders filled from `params`)."""
    return refusal.error(SwapError, **params)


NOT_FOUND = Refusal("not_found", "Not found.", 404)
LISTING_NOT_FOUND = Refusal("listing_not_found", "No such listing.", 404)

# creation
INVALID_AMOUNT = Refusal("invalid_amount", "amount must be a positive decimal number in a string.")
INVALID_HASHLOCK = Refusal(
    "invalid_hashlock", "hashlock must be 0x and 64 hex digits (sha256 of the secret)."
)
HASHLOCK_REUSED = Refusal("hashlock_reused", "This hashlock was used before; draw a new secret.")
INVALID_ADDRESS = Refusal("invalid_address", "taker_address is not an address.")
ADDRESS_NOT_LINKED = Refusal(
    "address_not_linked", "taker_address must be a wallet linked to your account."
)
PAIR_UNPRICED = Refusal(
    "pair_unpriced",
    "The oracle has no price for this pair, so it cannot be traded (its limits and its "
    "price band could not be checked).",
    409,
)
PAIR_HALTED = Refusal(
    "pair_halted", "Trading in this pair is halted while its price is unreliable.", 409
)
PRICE_UNAVAILABLE = Refusal("price_unavailable", "No USD price to check limits against.", 409)
KYC_LIMIT_EXCEEDED = Refusal(
    "kyc_limit_exceeded", "This swap is above your verification level's limit.", 403
)
MAKER_KYC_LIMIT_EXCEEDED = Refusal(
    "maker_kyc_limit_exceeded",
    "This swap is above the seller's verification level's limit.",
    403,
)
TOO_MANY_UNLOCKED_SWAPS = Refusal(
    "too_many_unlocked_swaps",
    "You already hold %(count)s swaps you have not locked yet; lock or cancel one first.",
    429,
)
SUSPENDED = Refusal(
    "suspended",
    "Your account is suspended for missed swap steps until %(until)s.",
    403,
)
TOO_MANY_OPEN_SWAPS = Refusal(
    "too_many_open_swaps", "You have too many unfinished swaps; finish or cancel one first.", 429
)
NETWORK_UNAVAILABLE = Refusal(
    "network_unavailable", "A network of this listing is not available.", 503
)
CHAIN_UNAVAILABLE = Refusal(
    "chain_unavailable", "A chain of this swap cannot be reached; try again shortly.", 503
)

# cancel
ONLY_TAKER_CAN_CANCEL = Refusal("only_taker_can_cancel", "Only the buyer can cancel a swap.", 403)
NOT_CANCELLABLE = Refusal(
    "not_cancellable", "Only a swap nobody has locked for can be cancelled.", 409
)
LOCK_EXISTS = Refusal("lock_exists", "Your lock is already on chain.", 409)
CANCEL_CHAIN_UNAVAILABLE = Refusal(
    "chain_unavailable",
    "The chain cannot be reached to check for your lock; try again shortly.",
    503,
)

# disputes
MESSAGE_REQUIRED = Refusal("message_required", "Say what went wrong.")
MESSAGE_TOO_LONG = Refusal("message_too_long", "Keep the message under 4000 characters.")
DISPUTE_RESOLVED = Refusal("dispute_resolved", "This dispute is resolved.", 409)
INVALID_OUTCOME = Refusal("invalid_outcome", "Unknown outcome.")
RESOLUTION_REQUIRED = Refusal("resolution_required", "Give the reason for the decision.")
DISPUTE_ALREADY_RESOLVED = Refusal("dispute_resolved", "This dispute is already resolved.", 409)

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
)
CANCEL = (ONLY_TAKER_CAN_CANCEL, NOT_CANCELLABLE, LOCK_EXISTS, CANCEL_CHAIN_UNAVAILABLE)
DISPUTE = (MESSAGE_REQUIRED, MESSAGE_TOO_LONG, DISPUTE_RESOLVED)
