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


def race(n: int, target) -> list:
    """Run `target(i)` in `n` real threads released together, each on its own database
    connection (closed after), for races against PostgreSQL. Returns each thread's result:
    the value, the codes of an ApiError, or the repr of any other exception."""
    import threading

    from django.db import connection

    from core.api.errors import ApiError

    results: list = [None] * n
    barrier = threading.Barrier(n, timeout=30)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except ApiError as exc:
            results[i] = exc.get_codes()
        except Exception as exc:  # reported by the caller's assertion, with its type
            results[i] = repr(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
