"""Every way a listing operation is refused, defined once: services raise these, the API
schema documents them (``core.api.refusals``). Messages are translated when raised."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.api.errors import ApiError
from core.api.refusals import Refusal


class ListingError(ApiError):
    """A refused listing operation, with a stable snake_case ``code``."""


def refuse(refusal: Refusal, **params) -> ApiError:
    """A ``ListingError`` for `refusal` (its message's placeholders filled from `params`)."""
    return refusal.error(ListingError, **params)


LISTING_NOT_FOUND = Refusal("listing_not_found", _("No such listing."), 404)
NOT_LISTING_MAKER = Refusal("not_listing_maker", _("Only the maker may change this listing."), 403)
INVALID_TRANSITION = Refusal(
    "invalid_transition", _("A listing cannot go from %(old)s to %(new)s."), 409
)
CONFLICT = Refusal("conflict", _("The listing changed; retry."), 409)
LISTING_CLOSED = Refusal("listing_closed", _("This listing is closed."), 409)
LISTING_EXPIRED = Refusal(
    "listing_expired", _("This listing has expired; set a later expiry first."), 409
)
REASON_REQUIRED = Refusal("reason_required", _("Give a reason for hiding this listing."))
PRICE_OUT_OF_BAND = Refusal(
    "price_out_of_band",
    _(
        "This listing's price is more than %(band)s%% away from the market rate "
        "(%(rate)s); its seller has been told to fix it."
    ),
    409,
)
SUSPENDED = Refusal(
    "suspended",
    _("Your account is suspended for missed swap steps until %(until)s."),
    403,
)
PRICE_UNAVAILABLE = Refusal(
    "price_unavailable", _("This listing's market price is unavailable now."), 409
)
LISTING_UNAVAILABLE = Refusal("listing_unavailable", _("This listing cannot be taken now."), 409)
OWN_LISTING = Refusal("own_listing", _("You cannot take your own listing."))
AMOUNT_NOT_POSITIVE = Refusal("amount_not_positive", _("The amount must be more than zero."))
TOO_MANY_DECIMALS = Refusal(
    "too_many_decimals", _("%(symbol)s amounts have at most %(places)d decimals.")
)
AMOUNT_ABOVE_MAXIMUM = Refusal(
    "amount_above_maximum", _("The amount is above this listing's maximum per trade.")
)
AMOUNT_BELOW_MINIMUM = Refusal(
    "amount_below_minimum", _("The amount is below this listing's minimum per trade.")
)
INSUFFICIENT_REMAINING = Refusal(
    "insufficient_remaining", _("Not that much is left in this listing."), 409
)

# What taking a listing (``services.listing_reserve``) may answer.
RESERVE = (
    LISTING_UNAVAILABLE,
    OWN_LISTING,
    AMOUNT_NOT_POSITIVE,
    TOO_MANY_DECIMALS,
    AMOUNT_ABOVE_MAXIMUM,
    AMOUNT_BELOW_MINIMUM,
    INSUFFICIENT_REMAINING,
    PRICE_UNAVAILABLE,
    PRICE_OUT_OF_BAND,
)
# What changing a listing's state or terms may answer (besides field errors).
CHANGE = (LISTING_CLOSED, INVALID_TRANSITION, LISTING_EXPIRED, SUSPENDED)
