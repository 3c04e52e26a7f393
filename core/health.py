"""Readiness checks: each dependency with its status and latency.

Core checks the platform's own dependencies (database, cache, channel layer, broker,
worker heartbeat). Every other app registers its checks from its ``AppConfig.ready()``
with :func:`register_checks`; core knows none of them. /health/ready lists core's
checks first, then each app's in the order of the app labels, whatever the order of
``INSTALLED_APPS``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache, caches
from django.db import close_old_connections, connection


@dataclass(frozen=True)
class Check:
    """One readiness check: ``probe()`` returns a short detail, or raises when it fails.

    ``isolated`` runs the probe in its own thread with a hard time limit, for clients
    that may block past their own timeout.
    """

    name: str
    probe: Callable[[], str]
    required: bool = True
    isolated: bool = False


CheckProvider = Callable[[], Iterable[Check]]
_providers: dict[str, CheckProvider] = {}


def register_checks(app_label: str, provider: CheckProvider) -> None:
    """Add the readiness checks of ``app_label``; call it from the app's ``AppConfig.ready()``.

    ``provider()`` is called at every readiness run, so its checks may follow settings
    that change (e.g. one per configured network). Registering a label again replaces
    its provider, so a repeated ``ready()`` adds nothing twice.
    """
    _providers[app_label] = provider


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    required: bool
    latency_ms: float
    detail: str = ""

    def as_dict(self) -> dict:
        out = {
            "status": "ok" if self.ok else "fail",
            "required": self.required,
            "latency_ms": self.latency_ms,
        }
        if self.detail:
            out["detail"] = self.detail
        return out


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    key, value = f"health:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    try:
        if cache.get(key) != value:
            raise RuntimeError("cache returned a different value")
    finally:
        cache.delete(key)
    return caches["default"].__class__.__name__


def check_channel_layer() -> str:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def roundtrip() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        message = await layer.receive(channel)
        if message.get("type") != "health.ping":
            raise RuntimeError("channel layer returned a different message")

    async_to_sync(roundtrip)()
    return layer.__class__.__name__


def check_broker() -> str:
    # Celery's Django fix-up makes the project's app the default in every thread, so
    # current_app is it here too, without importing `config`. The URL is read from
    # settings at call time, so the check follows what is configured now.
    with current_app.connection_for_write(
        url=settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_CHECK_TIMEOUT)
        return str(conn.transport_cls)


def check_worker_heartbeat() -> str:
    """Report the age of the last beat-driven heartbeat a worker wrote (informational)."""
    beat = cache.get("core:heartbeat")
    if beat is None:
        raise RuntimeError("no worker heartbeat seen yet")
    return f"last heartbeat {time.time() - beat:.0f}s ago"


def _run(name: str, fn: Callable[[], str], required: bool) -> CheckResult:
    started = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # every failure is reported, none raised
        detail, ok = f"{exc.__class__.__name__}: {exc}"[:300], False
    return CheckResult(name, ok, required, round((time.perf_counter() - started) * 1000, 2), detail)


def _run_in_thread(name: str, fn: Callable[[], str], required: bool) -> CheckResult:
    """Run a check with a hard time limit; DB connections opened in the thread are closed."""

    def target() -> CheckResult:
        try:
            return _run(name, fn, required)
        finally:
            close_old_connections()
            connection.close()

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(target)
    try:
        return future.result(timeout=settings.HEALTH_CHECK_TIMEOUT + 1)
    except FutureTimeout:
        return CheckResult(name, False, required, settings.HEALTH_CHECK_TIMEOUT * 1000, "timeout")
    finally:
        pool.shutdown(wait=False)


CORE_CHECKS = (
    Check("database", check_database),
    Check("cache", check_cache),
    Check("channel_layer", check_channel_layer, isolated=True),
    Check("broker", check_broker, isolated=True),
    Check("worker_heartbeat", check_worker_heartbeat, required=False),
)


def checks() -> list[Check]:
    """Every readiness check in report order: core's, then each app's by app label."""
    result = list(CORE_CHECKS)
    for app_label in sorted(_providers):
        result.extend(_providers[app_label]())
    return result


def readiness() -> tuple[bool, dict]:
    """Run every readiness check and return (all required checks passed, report)."""
    results = [
        (_run_in_thread if check.isolated else _run)(check.name, check.probe, check.required)
        for check in checks()
    ]
    ready = all(r.ok for r in results if r.required)
    degraded = any(not r.ok for r in results)
    report = {
        "status": "ok" if not degraded else ("degraded" if ready else "fail"),
        "checks": {r.name: r.as_dict() for r in results},
    }
    return ready, report
