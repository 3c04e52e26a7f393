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
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connections, transaction
from django.utils import timezone

from core.cache import script

T = TypeVar("T")


def lookup_lua(first_key: int, prefix_arg: int) -> str:
    """The lookup as Lua: the versions are ``KEYS[first_key..]``, the entry's full key without
    its tokens is ``ARGV[prefix_arg]``. Returns {0} when a token is missing or not ours (an
    integer), else {1, the tokens joined, the entry or nil}. A script of its own here, and the
    end of the throttle's for a read it looks up ahead (``core.api.throttling``)."""
    return f"""
local found = redis.call('MGET', unpack(KEYS, {first_key}))
for i = 1, #found do
  if not found[i] or not tonumber(found[i]) then return {{0}} end
end
local current = table.concat(found, ':')
return {{1, current, redis.call('GET', ARGV[{prefix_arg}] .. current)}}
"""


_TOKENS_AND_ENTRY = lookup_lua(1, 1)
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


@dataclass(frozen=True)
class Found:
    """A lookup's answer: the tokens of the versions joined, and the entry cached under
    `prefix` and them (None: not cached)."""

    prefix: str
    current: str
    entry: tuple | None


def found_in(reply: list, prefix: str) -> Found | None:
    """The answer of a ``lookup_lua`` script (None: a token is to be started first)."""
    if not reply[0]:
        return None
    raw = reply[2]
    serializer = caches["default"]._cache._serializer  # type: ignore[attr-defined]
    return Found(prefix, reply[1].decode(), None if raw is None else serializer.loads(raw))


def redis_keys(keys: Sequence[str]) -> list[str] | None:
    """`keys` as the Redis cache stores them, for a script; None when the cache is not
    Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return [backend.make_and_validate_key(key) for key in keys]


def _lookup(prefix: str, versions: Sequence[str]) -> Found:
    stored = redis_keys([prefix, *versions])
    if stored is not None:
        client = caches["default"]._cache.get_client(write=False)  # type: ignore[attr-defined]
        reply = script(_TOKENS_AND_ENTRY)(keys=stored[1:], args=stored[:1], client=client)
        found = found_in(reply, prefix)
        if found is not None:
            return found
    current = ":".join(tokens(versions))
    return Found(prefix, current, cache.get(prefix + current))


def entry_prefix(name: str, params: Any) -> str:
    """The start of the keys of read `name` with `params`, in this process."""
    digest = hashlib.sha256(f"{_PROCESS}|{name}|{params!r}".encode()).hexdigest()
    return f"read:{digest}:"


def cached(
    name: str,
    params: Any,
    versions: Sequence[str],
    compute: Callable[[], T],
    until: Callable[[datetime], datetime | None],
    *,
    ahead: Found | None = None,
) -> T:
    """``compute()``, or its value from the cache while `versions` keep the tokens it was
    computed under.

    `params` (any value with a stable ``repr``) names the read. An entry is kept at most
    ``READ_CACHE_SECONDS`` (0: nothing is cached) and never past ``until(now)``: the first
    moment time alone changes the answer (None: never), with `now` taken before the read.
    `ahead`: this read's lookup, already made in another round trip (the throttle's), used
    when it is this read's.
    """
    seconds = settings.READ_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    prefix = entry_prefix(name, params)
    found = ahead if ahead is not None and ahead.prefix == prefix else _lookup(prefix, versions)
    if found.entry is not None:
        return found.entry[0]
    key = prefix + found.current
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


@dataclass(frozen=True)
class Reads:
    """Reads that depend on the same `versions` and end by time at ``until(now)``: called
    as ``cached`` without those two."""

    versions: tuple[str, ...]
    until: Callable[[datetime], datetime | None]

    def __call__(
        self, name: str, params: Any, compute: Callable[[], T], *, ahead: Found | None = None
    ) -> T:
        return cached(name, params, self.versions, compute, self.until, ahead=ahead)


def _give_back_pooled_connections() -> None:
    """Return this thread's pooled database connections (outside a transaction) before it
    waits for another thread's computation, which may need one: requests that waited holding
    one each (a session read, say) could otherwise take the whole pool from it."""
    for connection in connections.all(initialized_only=True):
        if getattr(connection, "pool", None) is not None and not connection.in_atomic_block:
            connection.close()  # with a pool: back to the pool
