"""What operations record: every backup."""

from __future__ import annotations

from django.db import models


class BackupRun(models.Model):
    """One `manage.py backup`: where it went and whether it finished. Read by /metrics
    (``backup_last_success_timestamp_seconds``) for the "backup older than a day" alert."""

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    location = models.CharField(max_length=500)
    size_bytes = models.PositiveBigIntegerField(default=0)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)

    objects: models.Manager[BackupRun] = models.Manager()

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"backup {self.started_at:%Y-%m-%d %H:%M} {'ok' if self.ok else 'failed'}"
