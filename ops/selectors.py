"""Reads operations need across apps (counted at scrape time by ops.metrics)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone


def swaps_stuck_counts(*, now=None) -> dict[str, int]:
    """Open swaps past the moment that should have ended them, by state, plus
    ``OPS_STUCK_GRACE_SECONDS``:

    - ``created``: the quote window and its grace (``swaps.reconcile`` expires it);
    - a locked state: the taker's timelock T1, the later of the two (by then each lock has
      been redeemed or can be refunded, and the relayer refunds it), compared with this
      server's clock, which tracks chain time closely enough for an alert.

    The query belongs to swaps' selectors; it lives here until that app offers it.
    """
    from swaps.models import OPEN_STATES, Swap

    now = now or timezone.now()
    grace = int(settings.OPS_STUCK_GRACE_SECONDS)
    created_cutoff = now - timedelta(seconds=settings.SWAP_EXPIRY_GRACE_SECONDS + grace)
    counts = {str(state): 0 for state in OPEN_STATES}
    counts["created"] = Swap.objects.filter(
        state=Swap.State.CREATED, quote_expires_at__lt=created_cutoff
    ).count()
    locked = Swap.objects.filter(
        state__in=OPEN_STATES - {Swap.State.CREATED},
        taker_timelock__lt=int(now.timestamp()) - grace,
    )
    for state in locked.values_list("state", flat=True):
        counts[state] += 1
    return counts


def backup_last_success():
    """The newest successful ``BackupRun``, or None."""
    from ops.models import BackupRun

    return BackupRun.objects.filter(ok=True).order_by("-finished_at").first()
