"""Every way a wallet self-service operation is refused, defined once: services raise these,
the API schema documents them (``core.api.refusals``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.api.errors import ApiError
from core.api.refusals import Refusal


class AccountError(ApiError):
    """A refused account operation; ``code`` is stable for clients."""


def refuse(refusal: Refusal, **params) -> ApiError:
    """An ``AccountError`` for `refusal` (its message's placeholders filled from `params`)."""
    return refusal.error(AccountError, **params)


WALLET_NOT_FOUND = Refusal(
    "wallet_not_found",
    _("This address is not linked to your account. Reload the wallets page to see your list."),
    404,
)
LAST_SIGN_IN_METHOD = Refusal(
    "last_sign_in_method",
    _(
        "This wallet is the only way you can sign in, so it cannot be removed. Link another "
        "wallet, or add and confirm an e-mail address with a password, first."
    ),
    409,
)
