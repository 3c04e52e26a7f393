"""Queries slower than ``SLOW_QUERY_MS`` (default 1000; 0 turns it off) are logged with the
view or Celery task that ran them.

An execute wrapper is added to every database connection as it opens
(``connection_created``), so it covers web processes, workers and management commands
alike without a middleware. Only when a query is slow does it look for the request: up
the calling frames, the nearest ``request`` whose ``resolver_match`` is set names the view
(the same under WSGI and ASGI, where a sync view runs in a worker thread); otherwise the
running Celery task names it. The SQL is logged without its parameters, which may hold
personal data or secrets.
"""

from __future__ import annotations

import logging
import sys
import time

from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created
from prometheus_client import Counter

logger = logging.getLogger("ops.slow_query")
SLOW_QUERIES = Counter(
    "db_slow_queries_total", "Queries slower than SLOW_QUERY_MS, by view or task.", ["view"]
)
SQL_MAX_CHARS = 2000


def _threshold_ms() -> float:
    return float(settings.SLOW_QUERY_MS)


def where() -> str:
    """The view (``view:<name>``) or Celery task (``task:<name>``) running now, or ``-``.

    Walks the calling frames (only ever for a slow query, so the cost does not matter)."""
    frame = sys._getframe(1)
    while frame is not None:
        request = frame.f_locals.get("request")
        match = getattr(request, "resolver_match", None) if request is not None else None
        if match is not None:
            return f"view:{match.view_name or match._func_path}"
        frame = frame.f_back  # type: ignore[assignment]
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
                    "duration_ms": round(elapsed_ms, 3),
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


def install() -> None:
    """Wrap every connection opened from now on, and those already open (idempotent)."""
    connection_created.connect(_on_connection_created, dispatch_uid="ops.slowlog")
    for conn in connections.all(initialized_only=True):
        _add_wrapper(conn)
