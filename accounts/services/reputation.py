"""Reputation, as recomputed by the swaps app from its records."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal

from django.db import transaction

from accounts.models import Reputation, User

CENT = Decimal("0.01")
# Reputation.volume_usd is numeric(30, 2): at most 28 digits before the point.
_VOLUME_MAX = Decimal(10) ** 28


def reputation_update(
    *,
    user: User,
    completed_swaps: int,
    volume_usd: Decimal,
    refunded_swaps: int,
    disputes_opened: int,
    disputes_lost: int,
    failed_swaps: int = 0,
    abandoned_swaps: int = 0,
    suspended_until: datetime | None = None,
) -> Reputation:
    """Store ``user``'s reputation as recomputed from swap records (insert or replace).

    Called by the swaps app only, after it recomputed the figures from its own records;
    nothing else writes reputation. ``volume_usd`` is rounded half-up to the cent.
    ``suspended_until`` (None: not suspended) is when a suspension for faults ends.
    Concurrent calls for one user never create two rows (the row is locked, or created
    once); the last call wins, so callers pass figures recomputed from committed records.

    Raises ``ValueError`` for a negative count, a count that is not an ``int``, or a
    ``volume_usd`` that is a float, negative, not finite or too large.
    Side effects: one upsert in a transaction.
    """
    counts = {
        "completed_swaps": completed_swaps,
        "refunded_swaps": refunded_swaps,
        "failed_swaps": failed_swaps,
        "abandoned_swaps": abandoned_swaps,
        "disputes_opened": disputes_opened,
        "disputes_lost": disputes_lost,
    }
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, not {value!r}")
    if isinstance(volume_usd, bool) or not isinstance(volume_usd, Decimal | int):
        raise ValueError(f"volume_usd must be a Decimal, not {type(volume_usd).__name__}")
    volume = Decimal(volume_usd)
    if not volume.is_finite() or volume < 0 or volume >= _VOLUME_MAX:
        raise ValueError(f"volume_usd out of range: {volume_usd!r}")
    # A wide context: the default 28 digits could not hold 28 + 2 and would raise.
    cents = volume.quantize(CENT, rounding=ROUND_HALF_UP, context=Context(prec=40))
    if cents >= _VOLUME_MAX:
        raise ValueError(f"volume_usd out of range: {volume_usd!r}")
    with transaction.atomic():
        reputation, _ = Reputation.objects.update_or_create(
            user=user,
            defaults={**counts, "volume_usd": cents, "suspended_until": suspended_until},
        )
    return reputation
