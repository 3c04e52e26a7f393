"""Plumbing tasks."""

import logging
import time

from celery import shared_task
from django.core.cache import cache

logger = logging.getLogger(__name__)


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is consuming beat's schedule; /health/ready reports its age."""
    cache.set("core:heartbeat", time.time(), timeout=None)


@shared_task(name="core.ping")
def ping(note: str = "") -> str:
    """Log one line and answer; used to prove the broker path and request-id propagation."""
    logger.info("ping task ran", extra={"note": note})
    return "pong"
