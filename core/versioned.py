"""Reads cached under version tokens: invalidated exactly by replacing a token, not by time.

A version is a random token kept in the shared cache under its key. A read that depends on
some versions is cached under a key naming their current tokens (``cached``); a write
replaces a token (``bump``, or ``bump_on_commit`` from inside its transaction), so every read
after it misses the old entries, which age out. Works with every shared cache backend
(Redis, the file cache); per-process local memory only serves a single process.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

T = TypeVar("T")


def new_token() -> str:
    return uuid.uuid4().hex


def bump(key: str) -> None:
    """Replace version `key`'s token now."""
    cache.set(key, new_token(), timeout=None)


def bump_on_commit(key: str) -> None:
    """Replace version `key`'s token once the current transaction commits (at once outside
    one): a rolled-back write leaves the cached reads valid."""
    transaction.on_commit(lambda: bump(key))


def tokens(keys: Sequence[str]) -> list[str]:
    """The current tokens of `keys`, in that order: one cache round trip, two more when a
    version is new or the cache lost it (then it is started)."""
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    if missing:
        for key in missing:
            cache.add(key, new_token(), timeout=None)  # another process may start it first
        found = cache.get_many(keys)
    return [str(found[key]) for key in keys]


def cached(
    name: str,
    params: Any,
    versions: Sequence[str],
    compute: Callable[[], T],
    until: Callable[[datetime], datetime | None],
) -> T:
    """``compute()``, or its value from the cache while `versions` keep the tokens it was
    computed under.

    `params` (any value with a stable ``repr``) names the read. An entry is kept at most
    ``READ_CACHE_SECONDS`` (0: nothing is cached) and never past ``until(now)``: the first
    moment time alone changes the answer (None: never), with `now` taken before the read.
    """
    seconds = settings.READ_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    current = ":".join(tokens(versions))
    key = "read:" + hashlib.sha256(f"{name}|{params!r}|{current}".encode()).hexdigest()
    hit = cache.get(key)
    if hit is not None:
        return hit[0]
    now = timezone.now()  # before the read: what changes while it runs is bounded too
    value = compute()
    deadline = until(now)
    if deadline is not None:
        seconds = min(seconds, int((deadline - now).total_seconds()))
    if seconds > 0:
        cache.set(key, (value,), timeout=seconds)
    return value
