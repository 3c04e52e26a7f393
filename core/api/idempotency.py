"""``Idempotency-Key`` for money-moving POSTs: a retry gets the first answer.

Decorate a DRF view's handler::

    class SwapListCreateView(ListAPIView):
        @extend_schema(parameters=[IDEMPOTENCY_KEY], responses=...)  # with REFUSALS
        @idempotent
        def post(self, request): ...

``REFUSALS`` go in the view's documented refusals (grouped per status with its own).
Without the header the handler runs as before. With it, per (user, key):

- the first request runs, and its answer (status and JSON body) is stored **in the same
  transaction** as everything the handler writes. A 5xx rolls both back, so nothing is
  stored and a retry runs afresh; a swap is never saved without its answer;
- a retry with the same method, path and body gets the stored answer, with the header
  ``Idempotent-Replayed: true``; the handler does not run again;
- the same key with another body or endpoint is refused: 422 ``idempotency_key_reused``;
- a duplicate sent while the first is still running waits on the key's unique index
  (PostgreSQL holds the second INSERT until the first transaction ends; SQLite's
  IMMEDIATE transactions queue it at BEGIN), then gets the stored answer: one execution.

The handler's on-commit side effects (tasks, broadcasts, mails) fire once, after that
commit. Keys are kept ``IDEMPOTENCY_KEY_TTL_HOURS`` (default 24); an older key counts as
new. The request holds its database transaction for the handler's whole run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.errors import ApiError
from core.api.refusals import Refusal
from core.models import IdempotencyKey


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

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A unique key per operation (e.g. a UUID). A retry with the same key and body gets "
        "the first answer (header `Idempotent-Replayed: true`) instead of running again."
    ),
)


def _ttl() -> timedelta:
    return timedelta(hours=float(settings.IDEMPOTENCY_KEY_TTL_HOURS))


def _canonical(data):
    if isinstance(data, QueryDict):
        return {k: data.getlist(k) for k in sorted(data.keys())}
    if isinstance(data, dict):
        return {str(k): _canonical(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_canonical(v) for v in data]
    if hasattr(data, "read") and hasattr(data, "size"):  # an uploaded file
        return {"file": getattr(data, "name", ""), "size": data.size}
    return data


def fingerprint(request: Request) -> str:
    """SHA-256 of the method, the path and the parsed body (keys sorted)."""
    body = json.dumps(_canonical(request.data), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def _replay(record: IdempotencyKey, fingerprint_: str) -> Response:
    if record.fingerprint != fingerprint_:
        raise KEY_REUSED.error(IdempotencyError)
    return Response(
        record.response_body, status=record.status_code, headers={REPLAYED_HEADER: "true"}
    )


def idempotent(handler):
    """Make a DRF handler method honour ``Idempotency-Key`` (module docstring).

    Runs after authentication, permissions and throttling (inside ``dispatch``), so every
    attempt, replays included, counts against the caller's rate. Raises
    ``IdempotencyError`` (400 ``idempotency_key_invalid``, 422 ``idempotency_key_reused``).
    """

    @functools.wraps(handler)
    def wrapper(view, request: Request, *args, **kwargs):
        key = request.headers.get(HEADER)
        user = getattr(request, "user", None)
        if key is None or user is None or not user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        if not _VALID_KEY.match(key):
            raise KEY_INVALID.error(IdempotencyError)
        fp = fingerprint(request)

        def take_key() -> IdempotencyKey:
            return IdempotencyKey.objects.create(
                user=user,
                key=key,
                fingerprint=fp,
                method=request.method or "",
                path=request.path[:255],
                status_code=0,
            )

        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = take_key()
            except IntegrityError:
                found = IdempotencyKey.objects.get(user=user, key=key)
                if found.created_at >= timezone.now() - _ttl():
                    return _replay(found, fp)
                # Expired: forget it and take the key for this request.
                IdempotencyKey.objects.filter(pk=found.pk).delete()
                record = take_key()
            try:
                response = handler(view, request, *args, **kwargs)
            except Exception as exc:
                response = view.handle_exception(exc)
            if response.status_code >= 500:
                transaction.set_rollback(True)  # store nothing: the retry runs afresh
                return response
            body = (
                None
                if response.data is None
                else json.loads(JSONRenderer().render(response.data) or b"null")
            )
            IdempotencyKey.objects.filter(pk=record.pk).update(
                status_code=response.status_code, response_body=body
            )
        return response

    return wrapper


def idempotency_keys_purge(*, now=None) -> int:
    """Delete stored answers older than ``IDEMPOTENCY_KEY_TTL_HOURS``; how many."""
    cutoff = (now or timezone.now()) - _ttl()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
