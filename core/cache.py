"""The Redis cache backend, with its connection pools and clients shared by every cache
instance of a process (``CACHES["default"]["BACKEND"] = "core.cache.RedisCache"``).

Django keeps one cache instance per request context (``caches`` is an asgiref ``Local``), and
its Redis backend gives each instance a connection pool of its own and builds a new redis-py
client for every cache call. Under ASGI every request runs in a new context, so every request
opened a new TCP connection to Redis (with its handshake), left the old one to the garbage
collector, and spent longer building clients (redis-py 8's ``Redis()``) than on the round
trips. One pool and one client per process and server instead. redis-py clients are
thread-safe (each command takes a connection from the pool), and a pool resets itself in a
forked child (``ConnectionPool._checkpid``), so nothing crosses processes.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import redis
from django.core.cache.backends import redis as django_redis

_shared: dict[str, tuple[redis.ConnectionPool, redis.Redis]] = {}
_lock = threading.Lock()


class _SharedClient(django_redis.RedisCacheClient):
    # Django's, not in its type stubs.
    _servers: list[str]
    _pool_options: dict[str, Any]
    _pool_class: type[redis.ConnectionPool]
    _client: type[redis.Redis]

    def _shared(self, write: bool) -> tuple[redis.ConnectionPool, redis.Redis]:
        server = self._servers[self._get_connection_pool_index(write)]  # type: ignore[attr-defined]
        key = f"{server}|{sorted(self._pool_options.items())!r}"
        with _lock:
            found = _shared.get(key)
            if found is None:
                pool = self._pool_class.from_url(server, **self._pool_options)
                found = _shared[key] = (pool, self._client(connection_pool=pool))
            return found

    def _get_connection_pool(self, write: bool) -> redis.ConnectionPool:
        return self._shared(write)[0]

    def get_client(self, key: Any = None, *, write: bool = False) -> redis.Redis:
        return self._shared(write)[1]


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClient


@functools.cache
def script(source: str) -> Any:
    """A Lua script registered once per process: call it with ``client=`` the shared client
    (EVALSHA, loaded on first use by each Redis server)."""
    return redis.Redis().register_script(source)  # the client only encodes; none connects
