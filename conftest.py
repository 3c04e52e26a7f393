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


@pytest.fixture(scope="session", autouse=True)
def _no_stray_sessions_at_teardown(django_db_setup, django_db_blocker):
    """Torn down before the test database is dropped: on PostgreSQL, end the sessions still
    open on it (from threads that outlived their test), which made the drop fail with "being
    accessed by other users" and leave the database behind. Each is named on the way out."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, left(query, 120), pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for pid, query, _ in cursor.fetchall():
            print(f"\nended a test database session left open: pid {pid}, last query {query!r}")
    connection.close()


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
