"""Metrics the alert rules need that no app exposes: the worker heartbeat's age, the last
good backup and swaps stuck past their deadline. Read from shared state at scrape time
(the cache and the database), like every collector here: beat, workers and web processes
are separate processes, and each web process answers /metrics for all of them.
"""

from __future__ import annotations

import logging
import time

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)


class OpsCollector(Collector):
    def collect(self):
        from django.core.cache import cache

        from ops import selectors

        seen = GaugeMetricFamily(
            "worker_heartbeat_seen", "1 when a worker heartbeat is recorded in the cache."
        )
        age = GaugeMetricFamily(
            "worker_heartbeat_age_seconds",
            "Seconds since a worker ran beat's core.heartbeat task.",
        )
        try:
            beat = cache.get("core:heartbeat")
        except Exception:  # a scrape must not fail because the cache is down
            beat = None
        seen.add_metric([], 0 if beat is None else 1)
        if beat is not None:
            age.add_metric([], max(time.time() - float(beat), 0.0))
        yield seen
        yield age

        backup = GaugeMetricFamily(
            "backup_last_success_timestamp_seconds",
            "Unix time the last successful `manage.py backup` finished (0: never).",
        )
        stuck = GaugeMetricFamily(
            "swaps_stuck_past_deadline",
            "Open swaps past the quote window (created) or the taker's timelock (locked), "
            "plus OPS_STUCK_GRACE_SECONDS.",
            labels=["state"],
        )
        try:
            last = selectors.backup_last_success()
            backup.add_metric([], last.finished_at.timestamp() if last and last.finished_at else 0)
            for state, count in sorted(selectors.swaps_stuck_counts().items()):
                stuck.add_metric([state], count)
        except Exception:  # a scrape must not fail because the database is down
            logger.warning("ops metrics unavailable", exc_info=True)
        yield backup
        yield stuck

    def describe(self):
        return []


def register() -> None:
    """Register once per process (AppConfig.ready)."""
    if not getattr(register, "done", False):
        REGISTRY.register(OpsCollector())
        register.done = True  # type: ignore[attr-defined]
