"""The Redis cache keeps its connections across requests (core.cache.SharedConnectionPool)."""

from __future__ import annotations

import contextvars
import os
import threading

import pytest
from django.core.cache import caches

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the pool is the Redis cache's"),
    pytest.mark.django_db,
]


def _client():
    return caches["default"]._cache.get_client(write=True)


def test_every_cache_instance_of_a_process_shares_one_client_and_client():
    # given: Django gives each thread (each request context under ASGI) its own instance
    seen = []
    thread = threading.Thread(target=lambda: seen.append((caches["default"], _client())))
    thread.start()
    thread.join()
    # then: a new cache instance, the same client (and so pool)
    assert seen[0][0] is not caches["default"]
    assert seen[0][1] is _client()


def test_asgi_requests_do_not_open_a_redis_connection_each():
    import redis
    from asgiref.sync import async_to_sync
    from django.conf import settings
    from django.test import AsyncClient

    client = AsyncClient()

    def get(path):  # as uvicorn runs each request: in a context where no cache was used yet
        return contextvars.Context().run(async_to_sync(client.get), path)

    def received() -> int:
        return redis.Redis.from_url(settings.REDIS_URL).info("stats")["total_connections_received"]

    for _ in range(3):  # warm-up: the pool's first connections
        get("/api/v1/prices/")
    before = received()
    # when: each request runs in a context of its own, with a cache instance of its own
    for _ in range(20):
        response = get("/api/v1/prices/")
        assert response.status_code == 200
    # then: the connections are the pool's, kept open (the count includes the probe's own,
    # and other processes sharing this Redis may add a few)
    assert received() - before <= 5


def test_replies_are_parsed_by_hiredis():
    from redis._parsers.hiredis import _HiredisParser

    connection = _client().connection_pool.get_connection()
    try:
        assert isinstance(connection._parser, _HiredisParser)
    finally:
        _client().connection_pool.release(connection)
