"""Helpers for the test suite (no test runner imports here)."""

from __future__ import annotations

import os


def clear_run_cache() -> None:
    """Empty this run's cache only. On Redis, Django's cache.clear() is FLUSHDB, which would
    wipe other users of the database; every key this run writes carries its prefix."""
    url = os.environ.get("REDIS_URL")
    if not url:
        from django.core.cache import cache

        cache.clear()  # a file cache in this run's own temporary directory
        return
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"*{settings.REDIS_KEY_PREFIX}*", count=1000):
        client.delete(key)
