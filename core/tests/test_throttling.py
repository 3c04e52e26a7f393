"""The sliding-window throttle (core.api.throttling) on the run's cache: Redis in the
PostgreSQL + Redis run (one atomic script), the file cache in the embedded one."""

from __future__ import annotations

import os
import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.api.throttling import ClientThrottle
from testing.support import clear_run_cache

LIMIT = 5
MINUTE = 60.0


@pytest.fixture(autouse=True)
def _empty_counters(settings):
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": f"{LIMIT}/minute"}
    clear_run_cache()
    yield
    clear_run_cache()


def _request(ip: str = "203.0.113.7", user=None) -> Request:
    request = Request(APIRequestFactory().get("/api/v1/", REMOTE_ADDR=ip))
    request.user = user or AnonymousUser()
    return request


def _throttle(at: float) -> ClientThrottle:
    throttle = ClientThrottle()
    throttle.timer = lambda: at
    return throttle


def _allowed(at: float, request: Request | None = None) -> bool:
    return _throttle(at).allow_request(request or _request(), None)


def test_exactly_the_limit_passes_then_429_until_the_window_slides():
    # given: a minute that starts at t = 6000 (a window boundary)
    start = 100 * MINUTE
    # when
    first = [_allowed(start + i) for i in range(LIMIT + 1)]
    # then
    assert first == [True] * LIMIT + [False]
    # and: half a minute into the next window, the full previous window weighs 2.5 of 5
    assert _allowed(start + 1.5 * MINUTE)  # 2.5 + 0 + 1 <= 5
    assert _allowed(start + 1.5 * MINUTE)  # 2.5 + 1 + 1 <= 5
    assert not _allowed(start + 1.5 * MINUTE)  # 2.5 + 2 + 1 > 5
    # and: two windows later the old counts are gone
    assert all(_allowed(start + 3 * MINUTE) for _ in range(LIMIT))


def test_refused_requests_are_not_counted():
    start = 200 * MINUTE
    for _ in range(LIMIT):
        assert _allowed(start)
    # when: the client keeps hammering while held back
    assert not any(_allowed(start + 1) for _ in range(50))
    # then: as the previous window slides out it gets through at the rate again
    assert _allowed(start + MINUTE + 0.25 * MINUTE)  # 5 * 0.75 + 0 + 1 <= 5


def test_clients_are_counted_apart():
    start = 300 * MINUTE
    for _ in range(LIMIT):
        assert _allowed(start, _request("203.0.113.7"))
    assert not _allowed(start, _request("203.0.113.7"))
    assert _allowed(start, _request("198.51.100.9"))


@pytest.mark.django_db
def test_a_signed_in_user_has_the_user_rate_wherever_they_come_from(settings):
    from accounts.models import User

    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "user": "2/minute"}
    user = User.objects.create_user(username="rated", email="rated@example.com")
    start = 350 * MINUTE
    # when: the user asks from two addresses
    asked = [_allowed(start, _request(f"198.51.100.{n}", user)) for n in range(3)]
    # then: one count for the account; anonymous clients of those addresses keep their own
    assert asked == [True, True, False]
    assert _allowed(start, _request("198.51.100.0"))


@pytest.mark.parametrize("offset", [0.0, 17.0, 59.0])
def test_wait_is_when_the_next_request_passes(offset):
    # given: the limit reached `offset` seconds into a window, after a full previous window
    start = 400 * MINUTE
    for _ in range(LIMIT):
        assert _allowed(start - MINUTE + 1)
    for _ in range(LIMIT):
        _allowed(start + offset)  # passes as far as the sliding window lets it
    throttle = _throttle(start + offset)
    assert not throttle.allow_request(_request(), None)
    # when
    wait = throttle.wait()
    # then: refused just before, allowed just after
    assert wait > 0
    assert not _allowed(start + offset + wait - 0.5)
    assert _allowed(start + offset + wait + 0.01)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the atomic count is Redis's")
def test_concurrent_requests_never_pass_more_than_the_limit():
    # given: 16 threads asking at once, many times the limit
    start = 500 * MINUTE
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def ask():
        barrier.wait()
        for _ in range(10):
            results.append(_allowed(start + 1))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert results.count(True) == LIMIT
