"""Queries slower than ``SLOW_QUERY_MS`` (default 1000; 0 turns it off) are logged with the
view or Celery task that ran them.

An execute wrapper is added to every database connection as it opens
(``connection_created``), so it covers web processes, workers and management commands
alike without a middleware. The request's path is kept in a context variable from
``request_started`` (under ASGI it is copied into the thread that runs a sync view) and
resolved to the view's name only when a query is slow. The SQL is logged without its
parameters, which may hold personal data or secrets.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar

from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import connections
from django.db.backends.signals import connection_created
from prometheus_client import Counter

logger = logging.getLogger("ops.slow_query")
SLOW_QUERIES = Counter(
    "db_slow_queries_total", "Queries slower than SLOW_QUERY_MS, by view or task.", ["view"]
)
_path: ContextVar[str | None] = ContextVar("ops_request_path", default=None)
SQL_MAX_CHARS = 2000


def _threshold_ms() -> float:
    return float(getattr(settings, "SLOW_QUERY_MS", 1000))


def where() -> str:
    """The view (``view:<name>``) or Celery task (``task:<name>``) running now, or ``-``."""
    path = _path.get()
    if path is not None:
        from django.urls import Resolver404, resolve

        try:
            match = resolve(path)
        except Resolver404:
            return "view:<unmatched>"
        return f"view:{match.view_name or match._func_path}"
    from celery import current_task

    if current_task and getattr(current_task, "name", None):
        return f"task:{current_task.name}"
    return "-"


def _log_slow_queries(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        limit = _threshold_ms()
        if 0 < limit <= elapsed_ms:
            label = where()
            SLOW_QUERIES.labels(view=label).inc()
            logger.warning(
                "slow query",
                extra={
                    "duration_ms": round(elapsed_ms, 1),
                    "view": label,
                    "database": context["connection"].alias,
                    "sql": str(sql)[:SQL_MAX_CHARS],
                    "many": many,
                },
            )


def _add_wrapper(connection) -> None:
    if _log_slow_queries not in connection.execute_wrappers:
        connection.execute_wrappers.append(_log_slow_queries)


def _on_connection_created(sender, connection, **_) -> None:
    _add_wrapper(connection)


def _on_request_started(sender, environ=None, scope=None, **_) -> None:
    if scope is not None:
        _path.set(scope.get("path"))
    elif environ is not None:
        _path.set(environ.get("PATH_INFO"))


def _on_request_finished(sender, **_) -> None:
    _path.set(None)


def install() -> None:
    """Wrap every connection opened from now on, and those already open (idempotent)."""
    connection_created.connect(_on_connection_created, dispatch_uid="ops.slowlog")
    request_started.connect(_on_request_started, dispatch_uid="ops.slowlog")
    request_finished.connect(_on_request_finished, dispatch_uid="ops.slowlog")
    for conn in connections.all(initialized_only=True):
        _add_wrapper(conn)
