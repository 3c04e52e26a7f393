"""Throttles whose rates are read from settings at request time, so they can change live.

Every throttle keys anonymous clients by ``core.client_ip.client_ip`` (the trusted-proxy
rule), never by a raw ``X-Forwarded-For`` header a client can forge.

They count with a sliding window of two counters (``_SlidingWindow``), not DRF's list of
timestamps: DRF reads the client's whole history and writes it back on every request (two
cache round trips whose size grows with the rate), and two processes doing that at once both
let a request through on the same count. Here one Redis script checks and counts atomically
in one round trip, whatever the rate; for a GET that a view may answer from the read cache,
the same round trip looks the entry up (``core.api.cached``).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework import throttling

from core.api.cached import AHEAD_ATTRIBUTE, read_ahead
from core.cache import script
from core.client_ip import client_ip
from core.versioned import found_in, lookup_lua

# KEYS: this window's counter, the previous window's. ARGV: the previous window's weight (the
# share of it still inside the sliding window), the limit, the counter's lifetime in seconds.
# Counts the request only when it is allowed. Returns {allowed, this count, previous count}.
_CHECK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[1]) + current + 1 > tonumber(ARGV[2]) then
  return {0, current, previous}
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""
_CHECK_AND_COUNT = _CHECK + "return {1, current + 1, previous}"
# The same, then the view's read-cache lookup (core.api.cached.read_ahead) when the request
# is allowed: KEYS[3..] the read's versions, ARGV[4] its entry prefix. Returns {1, this
# count, previous count, the lookup's answer} (core.versioned.lookup_lua).
_CHECK_COUNT_AND_LOOK_UP = (
    _CHECK
    + "local function look_up()\n"
    + lookup_lua(first_key=3, prefix_arg=4)
    + "end\nreturn {1, current + 1, previous, look_up()}"
)


class _SettingsRate:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)  # type: ignore[attr-defined]

    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class _SlidingWindow(throttling.SimpleRateThrottle):
    """A client may make ``num_requests`` in any ``duration`` seconds, as estimated by two
    fixed windows: the current one's count plus the previous one's, weighted by how much of
    it the sliding window still covers. Starting fresh, exactly ``num_requests`` pass.
    Requests it refuses are not counted, so a client held back gets through again at the
    rate. On a Redis cache the check and the count are one atomic script; on another backend
    (the file cache of the embedded setup) a read and a write, as DRF does."""

    num_requests: int
    duration: int
    # Whether a request's check also makes the view's read-cache lookup (one throttle of a
    # view does: ClientThrottle, which every API view has).
    looks_ahead = False

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self._weight = 1 - (now - window * self.duration) / self.duration
        self._until_next = (window + 1) * self.duration - now
        current_key, previous_key = f"{key}:{window}", f"{key}:{window - 1}"
        lifetime = 2 * self.duration + 1
        cache = caches["default"]
        if isinstance(cache, RedisCache):
            client = cache._cache.get_client(write=True)  # type: ignore[attr-defined]
            keys = [cache.make_and_validate_key(k) for k in (current_key, previous_key)]
            args = [repr(self._weight), self.num_requests, lifetime]
            ahead = read_ahead(request, view) if self.looks_ahead else None
            if ahead is None:
                reply = script(_CHECK_AND_COUNT)(keys=keys, args=args, client=client)
            else:
                prefix, versions = ahead
                stored = [cache.make_and_validate_key(k) for k in (prefix, *versions)]
                reply = script(_CHECK_COUNT_AND_LOOK_UP)(
                    keys=keys + stored[1:], args=args + stored[:1], client=client
                )
            allowed, self._current, self._previous = reply[:3]
            if allowed and ahead is not None:
                found = found_in(reply[3], ahead[0])
                if found is not None:  # else a version is to be started: the view does it
                    setattr(request, AHEAD_ATTRIBUTE, found)
            return bool(allowed)
        counts = cache.get_many([current_key, previous_key])
        self._current = counts.get(current_key, 0)
        self._previous = counts.get(previous_key, 0)
        if self._previous * self._weight + self._current + 1 > self.num_requests:
            return False
        cache.set(current_key, self._current + 1, lifetime)
        return True

    def wait(self) -> float:
        """Seconds until a request would pass again, if the client waits for it."""
        room = self.num_requests - 1 - self._current  # what the previous window may still hold
        if room >= 0 and self._previous:
            # In this window: once the previous window's weighted count has shrunk enough.
            return max(0.0, (self._weight - room / self._previous) * self.duration)
        # In the next window, this one becomes the previous: its weight must fall to the limit.
        share = max(0.0, 1 - (self.num_requests - 1) / self._current) if self._current else 0.0
        return self._until_next + share * self.duration


class ClientThrottle(_SettingsRate, _SlidingWindow):
    """The general rate of every API view: ``API_THROTTLE_ANON`` per address for anonymous
    clients, ``API_THROTTLE_USER`` per user for signed-in ones. One counter per request:
    DRF's AnonRateThrottle and UserRateThrottle together counted an anonymous request twice,
    by address under both rates (the user rate, the larger, never decided)."""

    scope = "anon"
    looks_ahead = True

    def allow_request(self, request, view) -> bool:
        user = request.user
        self.scope = "user" if user is not None and user.is_authenticated else "anon"
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)  # type: ignore[assignment]
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        ident = request.user.pk if self.scope == "user" else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ScopedThrottle(_SettingsRate, throttling.ScopedRateThrottle, _SlidingWindow):
    """For views that set `throttle_scope` (sign-in, sign-up, SIWE, swap writes)."""
