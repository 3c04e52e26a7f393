"""Celery tasks of the marketplace app."""

from celery import shared_task

from marketplace import services


@shared_task(name="marketplace.expire_listings", ignore_result=True)
def expire_listings() -> int:
    """Expire listings whose expiry has passed (idempotent; each row rechecked under its lock)."""
    return services.listings_expire()
