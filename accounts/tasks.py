"""Celery tasks of the accounts app."""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.purge_siwe_nonces", ignore_result=True)
def purge_siwe_nonces() -> None:
    """Delete SIWE nonces that expired more than a day ago (idempotent)."""
    services.siwe_nonces_purge()


@shared_task(name="accounts.purge_ii_nonces", ignore_result=True)
def purge_ii_nonces() -> None:
    """Delete Internet Identity nonces that expired more than a day ago (idempotent)."""
    services.ii_nonces_purge()
