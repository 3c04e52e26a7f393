"""Suite-wide fixtures: collected static files, and skips that say why."""

from __future__ import annotations

import os

import pytest

from testing.support import clear_run_cache


@pytest.fixture(scope="session", autouse=True)
def _collected_static(django_db_blocker):
    """Pages use hashed static names, so the manifest must exist before any page renders."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        pytest.skip("needs PostgreSQL: DATABASE_URL is unset (the CI run sets it)")
    return url


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("needs Redis: REDIS_URL is unset (the CI run sets it)")
    return url


def pytest_sessionfinish(session, exitstatus):
    """Delete every Redis key this run wrote."""
    if os.environ.get("REDIS_URL"):
        clear_run_cache()
