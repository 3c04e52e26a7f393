"""One error shape for the whole API: {"detail", "code"}, plus "fields" for input errors."""

from __future__ import annotations

import json
import logging

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.boundary import OUT_OF_RANGE_ERRORS, TOO_LARGE_ERRORS, out_of_range_response

logger = logging.getLogger(__name__)


def _first_code(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return getattr(detail, "code", None) or "invalid"


def _field_errors(detail) -> dict | list:
    if isinstance(detail, dict):
        return {key: _field_errors(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_field_errors(item) for item in detail]
    return {"message": str(detail), "code": getattr(detail, "code", "invalid")}


class ApiError(exceptions.APIException):
    """Raise from services or views for a domain error with a stable code."""

    def __init__(self, detail: str, code: str, status_code: int = status.HTTP_400_BAD_REQUEST):
        self.status_code = status_code
        super().__init__(detail=detail, code=code)


# A lost connection to the database or Redis (core.views.server_error answers the same).
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "A service we depend on is unavailable for a moment. Please retry."


def connection_lost(exc: BaseException | None) -> bool:
    """A lost connection to the database or to Redis (not a bad query, not a bug)."""
    return isinstance(
        exc, OperationalError | InterfaceError | RedisConnectionError | RedisTimeoutError
    )


def exception_handler(exc, context):
    """DRF exception handler producing the project's single error shape."""
    boundary = _boundary_response(exc, context)
    if boundary is not None:
        return boundary
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if connection_lost(exc):
        # The database or Redis dropped the connection (a restart, a failover): nothing was
        # committed, so the client may retry; a money-moving POST with its Idempotency-Key.
        logger.warning("service unavailable: %r", exc, exc_info=exc)
        return Response(
            {"detail": UNAVAILABLE_DETAIL, "code": "service_unavailable"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        # Unexpected: log with the traceback, answer without internals.
        logger.exception("unhandled API error")
        return Response(
            {"detail": "Something went wrong on our side. Please retry.", "code": "server_error"},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        non_field = isinstance(detail, dict) and set(detail) <= {"non_field_errors"}
        message = "Invalid input."
        if non_field or isinstance(detail, list):
            items = detail["non_field_errors"] if isinstance(detail, dict) else detail
            message = str(items[0]) if items else message
        response.data = {
            "detail": message,
            "code": _first_code(detail),
            "fields": _field_errors(detail),
        }
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        if isinstance(code, dict | list):
            code = _first_code(exc.detail)
        response.data = {"detail": str(detail), "code": code}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = int(exc.wait) + (0 if exc.wait == int(exc.wait) else 1)
    return response


def _boundary_response(exc, context) -> Response | None:
    """Client input the code cannot hold: 400 ``out_of_range`` (naming the parameter), 413
    for a body over the limits, 400 for JSON nested past what the parser survives."""
    request = context.get("request")
    if isinstance(exc, OUT_OF_RANGE_ERRORS) and request is not None:
        logger.info("out-of-range input refused", extra={"error": type(exc).__name__})
        parsed = getattr(request, "_full_data", None)
        answer = out_of_range_response(request._request, parsed)
        return Response(json.loads(answer.content), status=answer.status_code)
    if isinstance(exc, TOO_LARGE_ERRORS):
        body = {"detail": "The request body is too large.", "code": "request_too_large"}
        return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, RecursionError):
        return Response({"detail": "Bad request.", "code": "parse_error"}, status=400)
    return None
