"""The metrics the alert rules read, and the slow-query log with the view or task."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import AsyncClient, Client
from django.utils import timezone
from prometheus_client import generate_latest

from ops.models import BackupRun
from ops.tasks import purge_idempotency_keys
from swaps.models import Swap
from swaps.tests.factories import make_swap

pytestmark = pytest.mark.django_db(transaction=True)


def _metrics() -> str:
    return generate_latest().decode()


def test_heartbeat_metrics_follow_the_cache():
    cache.delete("core:heartbeat")
    assert "worker_heartbeat_seen 0.0" in _metrics()
    cache.set("core:heartbeat", time.time() - 30, timeout=None)
    text = _metrics()
    assert "worker_heartbeat_seen 1.0" in text
    age = float(text.split("\nworker_heartbeat_age_seconds ")[1].split()[0])
    assert 29 <= age < 60


def test_backup_metric_is_the_last_successful_run():
    assert "backup_last_success_timestamp_seconds 0.0" in _metrics()
    done = timezone.now() - timedelta(hours=2)
    BackupRun.objects.create(location="/b/1", ok=True, finished_at=done)
    BackupRun.objects.create(location="/b/2", ok=False, finished_at=timezone.now())
    value = float(_metrics().split("\nbackup_last_success_timestamp_seconds ")[1].split()[0])
    assert value == pytest.approx(done.timestamp())


def test_stuck_swaps_are_counted_by_state(swap_env, settings):
    # given: two created swaps, one past its quote window and grace
    settings.OPS_STUCK_GRACE_SECONDS = 60
    stuck, *_ = make_swap()
    make_swap(taker_index=3)
    late = timezone.now() - timedelta(seconds=settings.SWAP_EXPIRY_GRACE_SECONDS + 61)
    Swap.objects.filter(pk=stuck.pk).update(quote_expires_at=late)
    # when / then
    text = _metrics()
    assert 'swaps_stuck_past_deadline{state="created"} 1.0' in text
    assert 'swaps_stuck_past_deadline{state="maker_locked"} 0.0' in text


@pytest.fixture
def slow_log(settings, caplog):
    settings.SLOW_QUERY_MS = 0.0001  # every query is "slow"
    caplog.set_level(logging.WARNING, logger="ops.slow_query")
    return caplog


def _slow(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ops.slow_query"]


def test_a_slow_query_is_logged_with_its_view(slow_log):
    Client().get("/health/ready")
    records = _slow(slow_log)
    assert records and {r.view for r in records} == {"view:health-ready"}
    assert all(r.duration_ms >= 0 and "SELECT" in r.sql for r in records)


def test_a_slow_query_under_asgi_is_logged_with_its_view(slow_log):
    async_to_sync(AsyncClient().get)("/health/ready")
    assert {r.view for r in _slow(slow_log)} == {"view:health-ready"}


def test_a_slow_query_in_a_task_is_logged_with_the_task(slow_log):
    purge_idempotency_keys.apply()
    assert {r.view for r in _slow(slow_log)} == {"task:ops.purge_idempotency_keys"}


def test_queries_under_the_threshold_are_not_logged(settings, caplog):
    settings.SLOW_QUERY_MS = 60_000
    caplog.set_level(logging.WARNING, logger="ops.slow_query")
    Client().get("/health/ready")
    assert _slow(caplog) == []
