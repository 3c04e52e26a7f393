"""Version tokens and the reads cached under them (core.versioned)."""

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
