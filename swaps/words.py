"""Where a swap's money is, in words for each party: one sentence per state and role, for the
swap page (templates never branch on a state's name; ``swaps/tests/test_states.py``)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from swaps.models import Swap

S = Swap.State

# (role, state) -> sentence. b/bs/bn: the base amount, symbol, network (the seller's coins);
# q/qs/qn: the quote amount, symbol, network (the buyer's payment).
STATUS = {
    ("taker", S.CREATED): _(
        "Nothing is locked yet. Lock %(q)s %(qs)s on %(qn)s in time to go on; until you do, "
        "you can still cancel."
    ),
    ("taker", S.TAKER_LOCKED): _(
        "Your %(q)s %(qs)s is locked on %(qn)s. The seller must now lock %(b)s %(bs)s on "
        "%(bn)s for you."
    ),
    ("taker", S.MAKER_LOCKED): _(
        "Both sides are locked. Redeem your %(b)s %(bs)s on %(bn)s now: that completes the "
        "swap for you."
    ),
    ("taker", S.SECRET_REVEALED): _(
        "You redeemed %(b)s %(bs)s on %(bn)s. The secret is public, so the seller (or our "
        "relayer) now redeems your %(q)s %(qs)s."
    ),
    ("taker", S.COMPLETED): _(
        "Done: you received %(b)s %(bs)s on %(bn)s, and the seller received your %(q)s %(qs)s "
        "on %(qn)s."
    ),
    ("taker", S.CANCELLED): _("Cancelled before any lock: nothing of yours moved."),
    ("taker", S.EXPIRED): _("Expired: you did not lock in time. Nothing of yours moved."),
    ("taker", S.REFUNDED): _(
        "Ended in refunds: you receive no %(bs)s, and your %(q)s %(qs)s goes back to you (see "
        "below for where each coin went)."
    ),
    ("maker", S.CREATED): _(
        "The buyer reserved %(b)s %(bs)s; nothing is locked yet. They must lock %(q)s %(qs)s "
        "on %(qn)s first."
    ),
    ("maker", S.TAKER_LOCKED): _(
        "The buyer's %(q)s %(qs)s is locked on %(qn)s for you. Lock your %(b)s %(bs)s on "
        "%(bn)s before the deadline."
    ),
    ("maker", S.MAKER_LOCKED): _(
        "Both sides are locked. The buyer redeems your %(b)s %(bs)s; that reveals the secret "
        "that pays you %(q)s %(qs)s."
    ),
    ("maker", S.SECRET_REVEALED): _(
        "The buyer redeemed; the secret is public. Your %(q)s %(qs)s on %(qn)s is being "
        "redeemed for you (our relayer does it, or you can)."
    ),
    ("maker", S.COMPLETED): _(
        "Done: you received %(q)s %(qs)s on %(qn)s, and the buyer received your %(b)s %(bs)s "
        "on %(bn)s."
    ),
    ("maker", S.CANCELLED): _(
        "The buyer cancelled before any lock: nothing of yours moved and %(b)s %(bs)s is back "
        "on your listing."
    ),
    ("maker", S.EXPIRED): _(
        "The buyer never locked, so the swap expired. Nothing of yours moved and %(b)s %(bs)s "
        "is back on your listing."
    ),
    ("maker", S.REFUNDED): _(
        "Ended in refunds: you receive no %(qs)s, and whatever you locked goes back to you "
        "(see below for where each coin went)."
    ),
}
FLAGGED = _(
    "A lock did not match the terms, so staff review this swap. Locked coins go back to their "
    "sender after the timelock."
)

# The deadline each state counts down to (the page ticks only that one, and the timelocks
# while the swap is open).
COUNTDOWN = {S.CREATED: "taker_lock", S.TAKER_LOCKED: "maker_lock", S.MAKER_LOCKED: "taker_redeem"}


def status_line(swap: Swap, *, role: str, amounts: dict[str, str]) -> str:
    """Where the money of `swap` is now, said to `role` ("taker" or "maker")."""
    text = STATUS.get((role, Swap.State(swap.state)), FLAGGED)
    return str(text) % {
        "b": amounts["base"],
        "bs": swap.base_asset.symbol,
        "bn": swap.base_asset.network,
        "q": amounts["quote"],
        "qs": swap.quote_asset.symbol,
        "qn": swap.quote_asset.network,
    }
