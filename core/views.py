"""Operational endpoints and error pages of the platform as a whole."""

from __future__ import annotations

import hmac
import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.api.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_DETAIL, connection_lost
from core.client_ip import client_ip
from core.health import readiness


@never_cache
@require_safe
def health_live(request: HttpRequest) -> JsonResponse:
    """The process answers. Checks nothing else on purpose."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def health_ready(request: HttpRequest) -> JsonResponse:
    """Every dependency with its status and latency; 503 when a required one fails."""
    ready, report = readiness()
    return JsonResponse(report, status=200 if ready else 503)


_LOOPBACK = {"127.0.0.1", "::1"}
_FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _forwarded_past_trust(request: HttpRequest) -> bool:
    """A loopback peer that forwards for someone else (a same-host proxy) is not local,
    unless the trusted-proxy settings are there to tell who that someone is."""
    configured = settings.TRUSTED_PROXY_COUNT or settings.TRUSTED_PROXY_NETWORKS
    return not configured and any(request.headers.get(h) for h in _FORWARDING_HEADERS)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition. Needs METRICS_TOKEN as a bearer token, or a loopback client.

    "Loopback" is the client address after the trusted proxies (``core.client_ip``): a
    forwarded header from a local process does not make a remote client local.
    """
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        allowed = hmac.compare_digest(given.encode(), token.encode())
    else:
        allowed = client_ip(request) in _LOOPBACK and not _forwarded_past_trust(request)
    if not allowed:
        return JsonResponse({"detail": "Not allowed.", "code": "forbidden"}, status=403)
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


@csrf_exempt  # nothing changes here: any method on an unknown API path is a JSON 404
def api_not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Unknown API paths answer in the API's error shape, even with DEBUG on."""
    return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(request: HttpRequest, status: int, code: str, detail: str) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": detail, "code": code}, status=status)
    return render(
        request,
        "core/error.html",
        {"status": status, "code": code, "detail": detail},
        status=status,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "bad_request", "Bad request.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "permission_denied", "You do not have access to this page.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the API's JSON shape under /api/, the error page elsewhere."""
    return _error(
        request, 403, "csrf_failed", "The CSRF check failed: reload the page and try again."
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``. An exception outside a DRF view (middleware, a page) that is a lost
    connection to the database or Redis is a 503 with Retry-After, as in the API: nothing
    was committed and a retry may succeed. The page is plain then (rendering the error page
    may need the database that is gone)."""
    if connection_lost(sys.exc_info()[1]):
        if _is_api(request):
            response = _error(request, 503, "service_unavailable", UNAVAILABLE_DETAIL)
        else:
            response = HttpResponse(UNAVAILABLE_DETAIL, status=503, content_type="text/plain")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return _error(request, 500, "server_error", "Something went wrong on our side. Please retry.")
