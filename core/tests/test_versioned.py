"""Version tokens and the reads cached under them (core.versioned)."""

import os
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings

from core import versioned

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "test:versioned:version"


def test_a_read_is_computed_once_until_its_version_is_bumped():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    with override_settings(READ_CACHE_SECONDS=60):
        read = lambda: versioned.cached("n", ("p",), [KEY], compute, until=lambda now: None)  # noqa: E731
        assert (read(), read()) == (1, 1)
        versioned.bump(KEY)
        assert (read(), read()) == (2, 2)


def test_a_rolled_back_write_keeps_the_token_and_a_committed_one_replaces_it():
    (before,) = versioned.tokens([KEY])
    with pytest.raises(RuntimeError), transaction.atomic():
        versioned.bump_on_commit(KEY)
        raise RuntimeError("rolled back")
    assert versioned.tokens([KEY]) == [before]
    with transaction.atomic():
        versioned.bump_on_commit(KEY)
        assert versioned.tokens([KEY]) == [before]  # not before the commit
    assert versioned.tokens([KEY]) != [before]


def test_nothing_is_cached_past_until_or_when_off():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    with override_settings(READ_CACHE_SECONDS=60):
        past = lambda now: now - timedelta(seconds=1)  # noqa: E731
        assert [versioned.cached("m", 1, [KEY], compute, until=past) for _ in range(2)] == [1, 2]
    with override_settings(READ_CACHE_SECONDS=0):
        assert versioned.cached("m", 1, [KEY], compute, until=lambda now: None) == 3


def test_an_older_releases_token_is_replaced_and_reads_are_cached_again():
    from django.core.cache import cache

    cache.set(KEY, "0123456789abcdef0123456789abcdef", timeout=None)  # a uuid hex, as before
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    with override_settings(READ_CACHE_SECONDS=60):
        read = lambda: versioned.cached("o", 1, [KEY], compute, until=lambda now: None)  # noqa: E731
        assert (read(), read()) == (1, 1)
    assert isinstance(cache.get(KEY), int)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the one-script lookup is Redis's")
def test_on_redis_a_hit_reads_tokens_and_entry_in_one_script(monkeypatch):
    with override_settings(READ_CACHE_SECONDS=60):
        read = lambda: versioned.cached("r", 1, [KEY], lambda: "value", until=lambda now: None)  # noqa: E731
        assert read() == "value"  # computed, and the token started
        # when: the separate token read would fail
        monkeypatch.setattr(versioned, "tokens", lambda keys: pytest.fail("a second read"))
        # then
        assert read() == "value"
        versioned.bump(KEY)
        assert versioned.cached("r", 1, [KEY], lambda: "new", until=lambda now: None) == "new"


def test_concurrent_misses_of_one_read_compute_it_once():
    import threading

    calls = []
    barrier = threading.Barrier(8)
    results = []

    def compute():
        calls.append(1)
        time.sleep(0.3)  # a slow search: the other requests arrive while it runs
        return "page"

    def request():
        barrier.wait()
        results.append(versioned.cached("herd", 1, [KEY], compute, until=lambda now: None))

    with override_settings(READ_CACHE_SECONDS=60):
        versioned.tokens([KEY])  # started
        threads = [threading.Thread(target=request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == ["page"] * 8
    assert len(calls) == 1


def test_a_lookup_made_ahead_for_another_read_is_not_used():
    # given: a lookup made ahead whose prefix is not this read's
    other = versioned.Found(versioned.entry_prefix("other", 1), "1", ("theirs",))
    with override_settings(READ_CACHE_SECONDS=60):
        # when
        value = versioned.cached("mine", 1, [KEY], lambda: "mine", lambda now: None, ahead=other)
    # then
    assert value == "mine"
