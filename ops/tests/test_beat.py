"""One scheduler: a second beat sends nothing, and the lock dies with the beat holding it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection

from ops.beat import GuardedScheduler, SchedulerLock

pytestmark = pytest.mark.django_db(transaction=True)


def _holder_process(lock: SchedulerLock) -> subprocess.Popen:
    """Another process that takes the same lock, says so on stdout, and waits forever."""
    if lock.postgres:
        db = connection.settings_dict
        code = f"""
            import psycopg, sys, time
            conn = psycopg.connect(dbname={db["NAME"]!r}, host={db.get("HOST") or None!r},
                port={db.get("PORT") or None!r}, user={db.get("USER") or None!r},
                password={db.get("PASSWORD") or None!r}, autocommit=True)
            assert conn.execute("SELECT pg_try_advisory_lock(%s)", [{lock.key}]).fetchone()[0]
            print("held", flush=True); time.sleep(600)
        """
    else:
        path = os.path.join(settings.VAR_DIR, "celerybeat.lock")
        code = f"""
            import fcntl, os, time
            fd = os.open({path!r}, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("held", flush=True); time.sleep(600)
        """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_the_lock_is_refused_while_held_and_freed_when_its_holder_is_killed():
    # given: another process (a first beat) holds the lock
    mine = SchedulerLock()
    holder = _holder_process(mine)
    try:
        # then: this one cannot take it
        assert mine.acquire() is False
        # when: the holder is killed outright
        holder.kill()
        holder.wait(timeout=10)
        # then: the lock is free at once (no lease to run out)
        deadline = time.monotonic() + 5
        while not mine.acquire() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mine.held and mine.alive()
    finally:
        holder.kill()
        mine.release()


def test_a_second_beat_schedules_nothing_until_the_first_is_gone(tmp_path, settings):
    # given: two beats with the same schedule (every task due now)
    settings.BEAT_LOCK_RETRY_SECONDS = 0
    sent: dict[str, list[str]] = {"first": [], "second": []}

    def scheduler(name: str) -> GuardedScheduler:
        beat = GuardedScheduler(app=current_app, schedule_filename=str(tmp_path / name))
        beat.apply_async = lambda entry, *a, **k: sent[name].append(entry.task)  # type: ignore[method-assign]
        for entry in beat.schedule.values():  # all due now
            entry.last_run_at = entry.default_now() - timedelta(hours=2)
        return beat

    def tick(beat: GuardedScheduler) -> float:
        for _ in range(50):  # celery sends one due entry per tick; 0 means "call again"
            wait = beat.tick()
            if wait:
                return wait
        return 0

    first, second = scheduler("first"), scheduler("second")
    try:
        # when: both tick
        tick(first)
        wait = second.tick()
        # then: only the first sent anything; the second waits to try again
        assert "chains.scan_all" in sent["first"]
        assert sent["second"] == [] and wait == 0
        # when: the first beat stops; the second ticks again
        first.close()
        tick(second)
        # then: the second schedules now
        assert "chains.scan_all" in sent["second"]
    finally:
        first.lock.release()
        second.close()
