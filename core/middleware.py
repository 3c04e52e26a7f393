"""Request id, request log, metrics, the Content-Security-Policy and Permissions-Policy
headers."""

from __future__ import annotations

import functools
import logging
import re
import time
import uuid

from csp import middleware as csp_middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from core.logging import bind_request_id, bind_user_id
from core.metrics import HTTP_LATENCY, HTTP_REQUESTS

request_logger = logging.getLogger("request")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id_from(request: HttpRequest) -> str:
    """Trust the caller's X-Request-ID only if it is short and harmless; else draw one."""
    candidate = request.headers.get("X-Request-ID", "")
    return candidate if _VALID_REQUEST_ID.match(candidate) else uuid.uuid4().hex


def _view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    # Unmatched paths share one label so scanners cannot blow up metric cardinality.
    return match.view_name or match._func_path if match else "<unmatched>"


class RequestContextMiddleware:
    """Binds a request id, logs one JSON line per request and records metrics.

    Under ASGI the whole chain runs in the request's thread (core.handlers), and the context
    variables set there are copied back to the event loop's context when it returns.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        started = self._start(request)
        response = self.get_response(request)
        return self._finish(request, response, started)

    def _start(self, request: HttpRequest) -> float:
        request.request_id = _request_id_from(request)  # type: ignore[attr-defined]
        bind_request_id(request.request_id)  # type: ignore[attr-defined]
        bind_user_id(None)
        return time.perf_counter()

    def _finish(self, request: HttpRequest, response: HttpResponse, started: float):
        elapsed = time.perf_counter() - started
        view = _view_label(request)
        HTTP_REQUESTS.labels(view=view, method=request.method, status=response.status_code).inc()
        HTTP_LATENCY.labels(view=view, method=request.method).observe(elapsed)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        request_logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,  # never the query string: it may carry tokens
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 2),
                "user_id": user_id,
                "view": view,
            },
        )
        return response


# Where a view or decorator changes the policy of one response (django-csp's decorators).
_PER_RESPONSE = tuple(
    f"_csp_{part}{ro}" for part in ("config", "update", "replace") for ro in ("", "_ro")
)


@functools.cache
def _policies() -> tuple[str, str]:
    """The policy header and the report-only one, from the settings alone."""
    return build_policy(), build_policy(report_only=True)


@receiver(setting_changed)
def _policy_setting_changed(setting: str, **kwargs) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _policies.cache_clear()


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's, with the headers that depend on the settings alone built once per
    process rather than on every response (7% of a cached API read's CPU).

    A response whose request drew a nonce, or whose view changed its policy, goes through
    django-csp as it is; any other gets the same headers, under the same exemptions
    (core/tests/test_csp.py compares the two).
    """

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, name) for name in _PER_RESPONSE
        ):
            return super().process_response(request, response)
        if response.status_code in (500, 404) and settings.DEBUG:
            return response  # Django's debug pages
        policy, report_only = _policies()
        for header, value, config, exempt in (
            (HEADER, policy, settings.CONTENT_SECURITY_POLICY, "_csp_exempt"),
            (
                HEADER_REPORT_ONLY,
                report_only,
                settings.CONTENT_SECURITY_POLICY_REPORT_ONLY,
                "_csp_exempt_ro",
            ),
        ):
            prefixes = (config or {}).get("EXCLUDE_URL_PREFIXES") or ()
            if (
                value
                and header not in response
                and not getattr(response, exempt, False)
                and not request.path_info.startswith(tuple(prefixes))
            ):
                response[header] = value
        # As django-csp: a nonce drawn after the header was written is an error, not a
        # nonce the policy does not name.
        request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response


class PermissionsPolicyMiddleware:
    """Adds a Permissions-Policy header (Django has no setting for it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


# Session key of the last time (epoch seconds) a signed-in session was seen active.
LAST_SEEN_KEY = "_last_seen"
_TOUCH_EVERY_SECONDS = 60


class SessionIdleMiddleware:
    """Sessions end after ``SESSION_IDLE_MINUTES`` without a request.

    ``SESSION_COOKIE_AGE`` is the idle limit; a signed-in session is re-saved (so its expiry
    moves forward) at most once a minute of activity, not on every request. A session left
    alone past the limit is expired by the session store itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.get("_auth_user_id"):
            now = int(time.time())
            if now - int(session.get(LAST_SEEN_KEY, 0)) >= _TOUCH_EVERY_SECONDS:
                session[LAST_SEEN_KEY] = now
        return self.get_response(request)
