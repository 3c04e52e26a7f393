"""Every way a listing operation is refused, defined once: services raise these, the API
schema documents them (``core.api.refusals``). Messages are translated when raised."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.api.refusals import Refusal

LISTING_NOT_FOUND = Refusal("listing_not_found", _("No such listing."), 404)
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
)
