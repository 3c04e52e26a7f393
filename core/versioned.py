"""Reads cached under version tokens: invalidated exactly by replacing a token, not by time.

A version is a random token kept in the shared cache under its key. A read that depends on
some versions is cached under a key naming their current tokens (``cached``); a write
replaces a token (``bump``, or ``bump_on_commit`` from inside its transaction), so every read
after it misses the old entries, which age out. Works with every shared cache backend
(Redis, the file cache); per-process local memory only serves a single process. On Redis a
hit is one round trip: a script reads the tokens and the entry they name together.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connections, transaction
from django.utils import timezone

from core.cache import script

T = TypeVar("T")


# KEYS: the versions. ARGV[1]: the entry's full key without its tokens. Returns {0} when a
# token is missing or not ours (an integer), else {1, the tokens joined, the entry or nil}.
_TOKENS_AND_ENTRY = """
local found = redis.call('MGET', unpack(KEYS))
for i = 1, #KEYS do
  if not found[i] or not tonumber(found[i]) then return {0} end
end
local current = table.concat(found, ':')
return {1, current, redis.call('GET', ARGV[1] .. current)}
"""
# Part of every entry's key: an entry is read only by the process that computed it, so none
# outlives the code that rendered it (a new release's processes start with none). Each
# process fills its own entries; the versions they depend on are shared.
_PROCESS = secrets.token_hex(8)
_computing: dict[str, threading.Lock] = {}
_computing_lock = threading.Lock()


def new_token() -> int:
    """A random integer: Django's Redis cache stores integers as plain digits, which the
    lookup script can put into a key."""
    return secrets.randbits(62)


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
    missing = [key for key in keys if not isinstance(found.get(key), int)]
    if missing:
        for key in missing:
            if key in found:  # an older release's token: replacing it only costs misses
                cache.set(key, new_token(), timeout=None)
            else:
                cache.add(key, new_token(), timeout=None)  # another process may start it first
        found = cache.get_many(keys)
    return [str(found[key]) for key in keys]


def _lookup(prefix: str, versions: Sequence[str]) -> tuple[str, tuple | None]:
    """The tokens of `versions` joined, and the entry cached under `prefix` and them."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=False)  # type: ignore[attr-defined]
        found = script(_TOKENS_AND_ENTRY)(
            keys=[backend.make_and_validate_key(key) for key in versions],
            args=[backend.make_and_validate_key(prefix)],
            client=client,
        )
        if found[0]:
            current, raw = found[1].decode(), found[2]
            entry = None if raw is None else backend._cache._serializer.loads(raw)  # type: ignore[attr-defined]
            return current, entry
    current = ":".join(tokens(versions))
    return current, cache.get(prefix + current)


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
    digest = hashlib.sha256(f"{_PROCESS}|{name}|{params!r}".encode()).hexdigest()
    prefix = f"read:{digest}:"
    current, hit = _lookup(prefix, versions)
    if hit is not None:
        return hit[0]
    key = prefix + current
    # One computation of a key at a time in this process (entries are per process): the
    # requests that miss it meanwhile wait for it and read it, instead of all computing it
    # at once after every change (a thundering herd, seconds under load).
    with _computing_lock:
        computing = _computing.setdefault(key, threading.Lock())
    if not computing.acquire(blocking=False):
        _give_back_pooled_connections()  # the computing thread may need one
        computing.acquire()
    try:
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
    finally:
        with _computing_lock:
            if _computing.get(key) is computing:
                del _computing[key]
        computing.release()


def _give_back_pooled_connections() -> None:
    """Return this thread's pooled database connections (outside a transaction) before it
    waits for another thread's computation, which may need one: requests that waited holding
    one each (a session read, say) could otherwise take the whole pool from it."""
    for connection in connections.all(initialized_only=True):
        if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
            connection.close()  # with a pool: back to the pool
