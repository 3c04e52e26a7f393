"""Celery tasks of the swaps app: thin, idempotent, safe to retry; they take ids."""

from __future__ import annotations

from celery import shared_task

from swaps import services


@shared_task(name="swaps.reconcile", ignore_result=True)
def reconcile() -> None:
    """The periodic sweep: ``services.swaps_sweep``."""
    services.swaps_sweep()


@shared_task(
    name="swaps.send_notification_email",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> None:
    """E-mail one notification, at most once (``services.notification_email_send``)."""
    services.notification_email_send(notification_id=notification_id)


@shared_task(
    name="swaps.send_notification_push",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=3,
)
def send_notification_push(notification_id: int) -> None:
    """Push one notification to its reader's browsers (``services.notification_push_send``)."""
    services.notification_push_send(notification_id=notification_id)
