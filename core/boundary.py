"""The input boundary: what untrusted input may look like before any view sees it.

- ``BodySizeLimit`` (ASGI): a body over ``REQUEST_MAX_BYTES`` is answered 413 before
  Django spools it to disk, whether it announces its length or streams it.
- ``InputBoundaryMiddleware``: a JSON body over ``API_JSON_MAX_BYTES`` is 413; one nested
  deeper than ``API_JSON_MAX_DEPTH`` is 400 ``json_too_deep`` (any JSON endpoint, ours or
  allauth's); a number a view cannot hold (overflow, non-finite decimal, database range)
  is 400 ``out_of_range`` naming the parameter, on pages as in the API, never a traceback.
"""

from __future__ import annotations

import decimal
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

# Exceptions that mean "a number in the request is outside what the code or database holds".
OUT_OF_RANGE_ERRORS: tuple[type[BaseException], ...] = (
    OverflowError,
    decimal.InvalidOperation,
    decimal.Overflow,
    DataError,
)
TOO_LARGE_ERRORS: tuple[type[BaseException], ...] = (RequestDataTooBig, TooManyFieldsSent)

INT64_MAX = 2**63 - 1
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_response(
    request: HttpRequest, status: int, code: str, detail: str, fields: dict | None = None
) -> HttpResponse:
    """The project's error shape under /api/ (and for JSON requests), the error page elsewhere."""
    wants_json = is_api(request) or request.content_type == "application/json"
    if wants_json:
        body: dict[str, Any] = {"detail": detail, "code": code}
        if fields:
            body["fields"] = fields
        return JsonResponse(body, status=status)
    context = {"status": status, "code": code, "detail": detail}
    return render(request, "core/error.html", context, status=status)


def out_of_range_field(params: dict[str, Any]) -> str | None:
    """The first parameter whose value is a number too large for a 64-bit id or a finite
    decimal of 60 digits (the widest column), or None."""
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                continue
            text = str(item)
            if not _NUMBER.match(text) and text.strip().lower() not in ("nan", "inf", "infinity"):
                continue
            try:
                number = decimal.Decimal(text.strip())
            except decimal.InvalidOperation:
                return name
            if not number.is_finite() or abs(number.adjusted()) > 60 or abs(number) > INT64_MAX:
                return name
    return None


def out_of_range_response(request: HttpRequest, data: Any = None) -> HttpResponse:
    """400 ``out_of_range``, naming the offending parameter when one can be found."""
    params: dict[str, Any] = {k: request.GET.getlist(k) for k in request.GET}
    if isinstance(data, dict):
        params.update(data)
    field = out_of_range_field(params)
    detail = f"{field}: this number is out of range." if field else "A number is out of range."
    fields = {field: [{"message": "This number is out of range.", "code": "out_of_range"}]}
    return error_response(request, 400, "out_of_range", detail, fields if field else None)


def json_too_deep(body: bytes, limit: int) -> bool:
    """Whether the JSON text ``body`` nests arrays/objects deeper than ``limit``.

    Scans brackets outside strings, stopping at the first level past the limit, so a
    hostile body costs at most one pass over its (already size-capped) bytes.
    """
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _too_large(request: HttpRequest) -> HttpResponse:
    return error_response(request, 413, "request_too_large", "The request body is too large.")


def _content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


class InputBoundaryMiddleware:
    """Refuses oversized or too-deep JSON and turns out-of-range numbers into a 400."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _content_length(request) > settings.REQUEST_MAX_BYTES:
            return _too_large(request)
        content_type = request.content_type or ""
        if content_type == "application/json" or content_type.endswith("+json"):
            if _content_length(request) > settings.API_JSON_MAX_BYTES:
                return _too_large(request)
            try:
                body = request.body
            except TOO_LARGE_ERRORS:
                return _too_large(request)
            if len(body) > settings.API_JSON_MAX_BYTES:
                return _too_large(request)
            if json_too_deep(body, settings.API_JSON_MAX_DEPTH):
                return error_response(
                    request,
                    400,
                    "json_too_deep",
                    f"JSON may nest at most {settings.API_JSON_MAX_DEPTH} levels.",
                )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Pages (the API has its own handler): a bad number is the client's error, not ours."""
        if isinstance(exception, OUT_OF_RANGE_ERRORS):
            logger.info("out-of-range input refused", extra={"error": type(exception).__name__})
            return out_of_range_response(request)
        if isinstance(exception, TOO_LARGE_ERRORS):
            return _too_large(request)
        if isinstance(exception, RecursionError):
            return error_response(request, 400, "bad_request", "Bad request.")
        return None


class BodyTooLarge(Exception):
    pass


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]


class BodySizeLimit:
    """ASGI wrapper: an HTTP body over ``REQUEST_MAX_BYTES`` gets 413 before it is stored."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.REQUEST_MAX_BYTES
        headers = dict(scope.get("headers") or [])
        try:
            announced = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            announced = 0
        if announced > limit:
            await self._reject(scope, send)
            return
        received = 0

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await self._reject(scope, send)

    @staticmethod
    async def _reject(scope: Scope, send: Send) -> None:
        body = b'{"detail": "The request body is too large.", "code": "request_too_large"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
