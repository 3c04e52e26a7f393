"""What the oracle stores: published aggregates (raw and OHLC), manual halts, alerts."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PricePoint(models.Model):
    """One published aggregate, kept for ORACLE_RAW_RETENTION_HOURS."""

    pair = models.CharField(max_length=24)
    status = models.CharField(max_length=12)
    price = models.DecimalField(max_digits=48, decimal_places=18, null=True, blank=True)
    spread_pct = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    sources = models.JSONField(default=list)
    excluded = models.JSONField(default=list)
    halt_reason = models.CharField(max_length=32, blank=True)
    fixed = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["pair", "-computed_at"])]

    def __str__(self) -> str:
        return f"{self.pair} {self.price} ({self.status}) at {self.computed_at:%H:%M:%S}"


class PriceCandle(models.Model):
    """Open/high/low/close of published prices per minute or hour."""

    class Interval(models.TextChoices):
        MINUTE = "1m"
        HOUR = "1h"

    pair = models.CharField(max_length=24)
    interval = models.CharField(max_length=2, choices=Interval.choices)
    start = models.DateTimeField()
    open = models.DecimalField(max_digits=48, decimal_places=18)
    high = models.DecimalField(max_digits=48, decimal_places=18)
    low = models.DecimalField(max_digits=48, decimal_places=18)
    close = models.DecimalField(max_digits=48, decimal_places=18)
    samples = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["pair", "interval", "start"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "interval", "start"], name="candle_once")
        ]

    def __str__(self) -> str:
        return f"{self.pair} {self.interval} {self.start:%Y-%m-%d %H:%M}"


class PairHalt(models.Model):
    """A pair halted by hand by staff. Deleting the row (resume) is audited as an alert."""

    pair = models.CharField(max_length=24, unique=True)
    reason = models.CharField(max_length=300)
    halted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.pair} halted: {self.reason}"


class OracleAlert(models.Model):
    """A deviation, exclusion, halt or manual action, for operators."""

    class Kind(models.TextChoices):
        EXCLUSION = "exclusion"
        HALT = "halt"
        RECOVERY = "recovery"
        MANUAL_HALT = "manual_halt"
        MANUAL_RESUME = "manual_resume"

    pair = models.CharField(max_length=24)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=32, blank=True)
    reason = models.CharField(max_length=32, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pair", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.pair} {self.source} {self.reason}".strip()
