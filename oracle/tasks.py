"""Celery tasks of the oracle. Idempotent: a round only ever publishes what it measured."""

from celery import shared_task

from oracle import services


@shared_task(name="oracle.refresh", ignore_result=True)
def refresh() -> None:
    """One refresh round over every pair (beat, every ORACLE_REFRESH_SECONDS)."""
    services.prices_refresh()


@shared_task(name="oracle.prune", ignore_result=True)
def prune() -> None:
    """Delete raw points past their retention."""
    services.prices_prune()
