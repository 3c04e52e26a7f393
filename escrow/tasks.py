"""Celery tasks of the escrow app: thin, idempotent, safe to retry; they take ids."""

from __future__ import annotations

from celery import shared_task

from escrow import services


@shared_task(name="escrow.release_due", ignore_result=True)
def release_due() -> None:
    """The periodic automatic release: ``services.orders_release_due``."""
    services.orders_release_due()


@shared_task(name="escrow.expire", ignore_result=True)
def expire() -> None:
    """The periodic cancellation of unpaid orders: ``services.orders_expire_unpaid``."""
    services.orders_expire_unpaid()


@shared_task(
    name="escrow.notify",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=5,
)
def notify(order_id: str, state: str) -> None:
    """Tell both parties the order's new state (``services.notify_parties``)."""
    services.notify_parties(order_id=order_id, state=state)
