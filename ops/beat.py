"""Celery beat that schedules only while it holds the deployment's one scheduler lock.

Run every beat as ``celery -A config beat -S ops.beat:GuardedScheduler``. A second beat
started by mistake, or the beat of a second node, stands by: it ticks, finds the lock
taken, sends nothing, and tries again every ``BEAT_LOCK_RETRY_SECONDS`` (default 5). The
lock dies with its holder, so a killed beat's successor takes over within that time:

- PostgreSQL: a session-level advisory lock on a connection of the beat's own (not
  Django's, which closes connections between tasks); the server drops it when that
  session ends, however the process ends. The connection is checked each tick, so a beat
  cut off from the database stops scheduling rather than risk a second scheduler.
- SQLite (one machine only): an exclusive ``flock`` on ``$VAR_DIR/celerybeat.lock``,
  released by the kernel when the process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler

logger = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class SchedulerLock:
    """The deployment-wide "I am the scheduler" lock (see the module docstring)."""

    def __init__(self, name: str | None = None) -> None:
        from django.conf import settings

        self.name = name or f"{settings.REDIS_KEY_PREFIX}:celery-beat"
        self.key = _lock_key(self.name)
        self.postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        self._conn: Any = None  # a psycopg connection while the lock is held
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if free; True if this process holds it now. Never raises."""
        if self.held:
            return True
        try:
            return self._acquire_postgres() if self.postgres else self._acquire_file()
        except Exception:
            logger.warning("beat lock: could not ask for it", exc_info=True)
            self.release()
            return False

    def _acquire_postgres(self) -> bool:
        import psycopg
        from django.db import connection

        db = connection.settings_dict
        options = {
            k: v for k, v in db.get("OPTIONS", {}).items() if k in ("sslmode", "sslrootcert")
        }
        conn = psycopg.connect(
            dbname=db["NAME"],
            host=db.get("HOST") or None,
            port=db.get("PORT") or None,
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            autocommit=True,
            application_name="celery-beat-lock",
            **options,
        )
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
        if got and got[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def _acquire_file(self) -> bool:
        from django.conf import settings

        path = Path(settings.VAR_DIR) / "celerybeat.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def alive(self) -> bool:
        """Whether the lock is still ours (the PostgreSQL session still answers)."""
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
            except Exception:
                logger.error("beat lock: lost the database session holding it")
                self.release()
                return False
            return True
        return self._fd is not None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # ends the session: the server drops the lock
            except Exception:
                logger.warning("beat lock: closing its session failed", exc_info=True)
            self._conn = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class GuardedScheduler(PersistentScheduler):
    """``PersistentScheduler`` that sends nothing unless it holds ``SchedulerLock``."""

    def __init__(self, *args, **kwargs) -> None:
        from django.conf import settings

        self.lock = SchedulerLock()
        self.retry_seconds = float(settings.BEAT_LOCK_RETRY_SECONDS)
        self._next_try = 0.0
        self._standing_by = False
        super().__init__(*args, **kwargs)

    def _leader(self) -> bool:
        if self.lock.held and self.lock.alive():
            return True
        now = time.monotonic()
        if now < self._next_try:
            return False
        self._next_try = now + self.retry_seconds
        if self.lock.acquire():
            logger.warning(
                "beat lock acquired: this beat schedules", extra={"lock": self.lock.name}
            )
            self._standing_by = False
            return True
        if not self._standing_by:
            logger.warning(
                "beat lock held by another scheduler: standing by", extra={"lock": self.lock.name}
            )
            self._standing_by = True
        return False

    def tick(self, *args, **kwargs):
        if not self._leader():
            return self.retry_seconds
        return super().tick(*args, **kwargs)

    def close(self) -> None:
        super().close()
        self.lock.release()
