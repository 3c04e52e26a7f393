"""Every way an escrow operation is refused, defined once: services raise these, the API
schema documents them (``core.api.refusals``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.api.errors import ApiError
from core.api.refusals import Refusal


class EscrowError(ApiError):
    """A refused escrow operation; ``code`` is stable for clients."""


class InvalidTransition(Exception):
    """A move not in ``escrow.models.TRANSITIONS`` (a bug or a stale caller, never input)."""


def refuse(refusal: Refusal, **params) -> ApiError:
    """An ``EscrowError`` for `refusal` (its message's placeholders filled from `params`)."""
    return refusal.error(EscrowError, **params)


NOT_FOUND = Refusal("not_found", _("Not found."), 404)

# catalogue
CATEGORY_UNKNOWN = Refusal("category_unknown", _("No such category."))
ASSET_UNKNOWN = Refusal("asset_unknown", _("No such asset, or it is not enabled."))
NO_ESCROW_ON_NETWORK = Refusal(
    "no_escrow_on_network", _("This asset's network has no escrow contract right now."), 409
)
INVALID_PRICE = Refusal(
    "invalid_price",
    _("price must be a positive decimal number in a string, in the asset's places."),
)
INVALID_ADDRESS = Refusal("invalid_address", _("This is not an address."))
NOT_PRODUCT_SELLER = Refusal("not_product_seller", _("Only the seller can change a product."), 403)
FILE_TOO_LARGE = Refusal("file_too_large", _("The file is too large."))
INVALID_IMAGE = Refusal("invalid_image", _("Use a JPEG, PNG or WebP image."))
TOO_MANY_IMAGES = Refusal("too_many_images", _("A product has at most %(count)s images."))
INVALID_FILE = Refusal("invalid_file", _("Use a PDF, JPEG, PNG, WebP or plain-text file."))

# ordering
PRODUCT_UNAVAILABLE = Refusal("product_unavailable", _("This product is not for sale."), 409)
OWN_PRODUCT = Refusal("own_product", _("You cannot buy your own product."), 409)
INVALID_QUANTITY = Refusal("invalid_quantity", _("quantity must be a whole number from 1."))
OUT_OF_STOCK = Refusal("out_of_stock", _("Only %(available)s left of %(title)s."), 409)
CART_EMPTY = Refusal("cart_empty", _("Nothing in your cart from this seller."))
MIXED_ASSETS = Refusal(
    "mixed_assets", _("One order is paid in one asset: order these products separately.")
)
CHAIN_UNAVAILABLE = Refusal(
    "chain_unavailable", _("The chain cannot be reached; try again shortly."), 503
)

# steps
NOT_YOUR_STEP = Refusal("not_your_step", _("Only the %(role)s can do this."), 403)
WRONG_STATE = Refusal("wrong_state", _("Not possible while the order is %(state)s."), 409)
TRACKING_REQUIRED = Refusal("tracking_required", _("Say how it was sent (tracking details)."))
MESSAGE_REQUIRED = Refusal("message_required", _("Say what went wrong."))
MESSAGE_TOO_LONG = Refusal("message_too_long", _("Keep the message under 4000 characters."))
DISPUTE_TOO_LATE = Refusal(
    "dispute_too_late",
    _("The release time has passed: a dispute can no longer be opened."),
    409,
)
CONDITION_UNKNOWN = Refusal("condition_unknown", _("No such condition on this order."), 404)
ALREADY_REVIEWED = Refusal("already_reviewed", _("You reviewed this order already."), 409)
INVALID_RATING = Refusal("invalid_rating", _("rating must be a whole number from 1 to 5."))

# arbitration
STAFF_ONLY = Refusal("staff_only", _("Only staff decide disputes."), 403)
INVALID_SHARE = Refusal("invalid_share", _("buyer_share_pct must be a number from 0 to 100."))
REASON_REQUIRED = Refusal("reason_required", _("Give the reason for the decision."))
ALREADY_DECIDED = Refusal("already_decided", _("This dispute was decided already."), 409)

PRODUCT_WRITE = (
    CATEGORY_UNKNOWN,
    ASSET_UNKNOWN,
    NO_ESCROW_ON_NETWORK,
    INVALID_PRICE,
    INVALID_ADDRESS,
    NOT_PRODUCT_SELLER,
)
ORDER_CREATE = (
    PRODUCT_UNAVAILABLE,
    OWN_PRODUCT,
    INVALID_QUANTITY,
    OUT_OF_STOCK,
    INVALID_ADDRESS,
    CART_EMPTY,
    MIXED_ASSETS,
    NO_ESCROW_ON_NETWORK,
    CHAIN_UNAVAILABLE,
)
STEP = (NOT_YOUR_STEP, WRONG_STATE)
RESOLVE = (STAFF_ONLY, INVALID_SHARE, REASON_REQUIRED, ALREADY_DECIDED, WRONG_STATE)
