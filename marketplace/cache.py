"""Cached offer-book reads, invalidated exactly: by version tokens, not by time.

A cached read is stored under a key that names every version token it depends on:

* ``book``: any listing write (``marketplace.services``, every writer of a listing, swaps
  included through ``listing_reserve``/``listing_release``), moderation, and a change to an
  asset or a maker that listings show or filter on (``marketplace.apps`` connects the
  signals);
* ``prices``: the oracle's (``oracle.selectors.prices_token``), replaced by every price
  publication and manual halt or resume.

A write replaces its token after its transaction commits (``transaction.on_commit``), so
every read after the write returns misses the old entries; nothing is deleted, old entries
age out. What time alone changes is bounded too: an entry lives no longer than the next
listing expiry (a listing past its expiry leaves the book before the expiry job runs) and
than the moment an oracle price it used goes stale (``oracle.selectors.prices_fresh_until``).
Works with every shared cache backend (Redis, the file cache); per-process local memory
only serves a single process, as it does for the oracle's own prices.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from oracle.selectors import PRICES_VERSION_KEY, prices_fresh_until, prices_token

BOOK_VERSION_KEY = "marketplace:book:version"
T = TypeVar("T")


def book_changed() -> None:
    """Mark every cached offer-book read out of date once the current transaction commits
    (at once outside one). Call it from every write that changes what the book shows."""
    transaction.on_commit(lambda: cache.set(BOOK_VERSION_KEY, uuid.uuid4().hex, timeout=None))


def book_token() -> str:
    token = cache.get(BOOK_VERSION_KEY)
    if token is None:  # first read, or the cache lost it: start a new version
        cache.add(BOOK_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(BOOK_VERSION_KEY)
    return str(token)


def _tokens() -> str:
    """The book's and the oracle's version tokens, in one cache round trip."""
    found = cache.get_many([BOOK_VERSION_KEY, PRICES_VERSION_KEY])
    if len(found) < 2:  # first read, or the cache lost one: start it
        return f"{book_token()}:{prices_token()}"
    return f"{found[BOOK_VERSION_KEY]}:{found[PRICES_VERSION_KEY]}"


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


def cached_read(name: str, params: Any, compute: Callable[[], T]) -> T:
    """``compute()``, or its value from the cache when nothing it depends on changed since.

    `params` (any value with a stable ``repr``) names the read; the key adds the book's and
    the oracle's version tokens. Kept at most ``READ_CACHE_SECONDS``, and never past
    the next listing expiry or the oracle's next staleness.
    """
    seconds = settings.READ_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    tokens = _tokens()
    digest = hashlib.sha256(f"{name}|{params!r}|{tokens}".encode()).hexdigest()
    key = f"marketplace:read:{digest}"
    hit = cache.get(key)
    if hit is not None:
        return hit[0]
    now = timezone.now()  # before the read: what expires while it runs is bounded too
    value = compute()
    deadlines = [d for d in (next_expiry(now), prices_fresh_until(now=now)) if d is not None]
    for deadline in deadlines:
        seconds = min(seconds, int((deadline - now).total_seconds()))
    if seconds > 0:
        cache.set(key, (value,), timeout=seconds)
    return value
