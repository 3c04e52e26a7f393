"""Celery tasks of the swaps app: thin, idempotent, safe to retry; they take ids."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from swaps import selectors, services
from swaps.models import Notification

logger = logging.getLogger(__name__)


@shared_task(name="swaps.reconcile", ignore_result=True)
def reconcile() -> None:
    """Re-derive open swaps from chain state, expire those nobody locked in time, and queue
    the relayer's redeem again for every swap whose secret is public but whose taker lock
    is still live (its first relay was lost to a crash or an outage; the relayer ignores a
    repeat while a transaction for that lock is live)."""
    from chains.tasks import relay_redeem

    services.swaps_reconcile_open()
    services.swaps_expire_due()
    for network, lock_id, preimage in selectors.swaps_awaiting_relay():
        relay_redeem.delay(network, lock_id, preimage)


@shared_task(
    name="swaps.send_notification_email",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=5,
    max_retries=5,
)
def send_notification_email(notification_id: int) -> None:
    """E-mail one notification, at most once: the row is marked before the send commits."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update()
            .select_related("user")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if note is None or not note.user.email:
            return
        with translation.override(note.user.preferred_language or settings.LANGUAGE_CODE):
            text = gettext(note.message)
        send_mail(
            subject=f"[P2P Swap] {text}",
            message=f"{text}\n\n{settings.SITE_URL}/swaps/{note.swap_id}/",
            from_email=None,
            recipient_list=[note.user.email],
        )
        services.notification_mark_emailed(notification_id=note.pk)
