"""The base app's one table: the first answer to each Idempotency-Key (core.api.idempotency)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """The first answer to a money-moving POST sent with an ``Idempotency-Key`` header.

    One row per (user, key). ``fingerprint`` is the SHA-256 of the method, the path and the
    canonical request body, so a key reused for another request is told apart from a retry.
    The row is written in the same transaction as the request's own writes: either both are
    committed or neither is (a 5xx stores nothing, and the retry runs afresh).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects: models.Manager[IdempotencyKey] = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} key {self.key[:16]} → {self.status_code}"
