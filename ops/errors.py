"""Every way an Idempotency-Key request is refused, defined once (``core.api.refusals``)."""

from __future__ import annotations

from core.api.errors import ApiError
from core.api.refusals import Refusal


class IdempotencyError(ApiError):
    """A request refused for its Idempotency-Key; ``code`` is stable for clients."""


KEY_INVALID = Refusal(
    "idempotency_key_invalid",
    "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).",
    400,
)
KEY_REUSED = Refusal(
    "idempotency_key_reused",
    "This Idempotency-Key was already used for a different request (another body or "
    "endpoint). Use a new key for a new request.",
    422,
)
REFUSALS = (KEY_INVALID, KEY_REUSED)
