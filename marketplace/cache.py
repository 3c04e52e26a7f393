"""Cached offer-book reads, invalidated exactly (``core.versioned``): the key of each names
the tokens of two versions:

* ``book``: any listing write (``marketplace.services``, every writer of a listing, swaps
  included through ``listing_reserve``/``listing_release``), moderation, and a change to an
  asset or a maker that listings show or filter on (``marketplace.apps`` connects the
  signals);
* ``prices``: the oracle's (``oracle.selectors.PRICES_VERSION_KEY``), replaced by every price
  publication and manual halt or resume.

What time alone changes is bounded too: an entry lives no longer than the next listing
expiry (a listing past its expiry leaves the book before the expiry job runs) and than the
moment an oracle price it used goes stale (``oracle.selectors.prices_fresh_until``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from core import versioned
from oracle.selectors import PRICES_VERSION_KEY, prices_fresh_until

BOOK_VERSION_KEY = "marketplace:book:version"
T = TypeVar("T")


def book_changed() -> None:
    """Mark every cached offer-book read out of date once the current transaction commits
    (at once outside one). Call it from every write that changes what the book shows."""
    versioned.bump_on_commit(BOOK_VERSION_KEY)


def next_expiry(now: datetime) -> datetime | None:
    """When the next listing in the book passes its expiry (None: none will). One query on
    the ``listing_expiry_due`` index."""
    from marketplace.models import Listing

    return (
        Listing.objects.visible(now=now)
        .filter(expires_at__isnull=False)
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )


def _fresh_until(now: datetime) -> datetime | None:
    return min((d for d in (next_expiry(now), prices_fresh_until()) if d is not None), default=None)


# ``cached_read(name, params, compute)``: ``compute()``, or its value from the cache when
# nothing it depends on changed since: no listing, maker, asset, price or halt, no listing
# expiry and no price gone stale. `params` (any value with a stable ``repr``) names the read.
cached_read = versioned.Reads((BOOK_VERSION_KEY, PRICES_VERSION_KEY), until=_fresh_until)
