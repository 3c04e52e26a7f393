"""Celery tasks of the ops app."""

from __future__ import annotations

from celery import shared_task

from core.api import idempotency


@shared_task(name="ops.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> None:
    """Delete stored Idempotency-Key answers older than IDEMPOTENCY_KEY_TTL_HOURS."""
    idempotency.idempotency_keys_purge()
