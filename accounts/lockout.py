"""Sign-in lockout: too many failed passwords lock the account and the client IP for a while.

Every password sign-in goes through one of ``SIGN_IN_PATHS`` (allauth's page, or its
headless API; ``/admin/login/`` only leads to the page). Failures are counted from Django's
``user_login_failed`` signal, per account (the e-mail or username tried, hashed) and per
client IP (``core.client_ip``), in the cache shared by every process. Past
``SIGN_IN_LOCKOUT_ACCOUNT_FAILURES`` or ``SIGN_IN_LOCKOUT_IP_FAILURES`` within
``SIGN_IN_LOCKOUT_SECONDS``, sign-in attempts for that account or from that IP are answered
429 with ``Retry-After`` until the window ends; a successful sign-in clears its account.
"""

from __future__ import annotations

import hashlib
import json
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.client_ip import client_ip

SIGN_IN_PATHS = (
    "/accounts/login/",
    "/_allauth/browser/v1/auth/login",
    "/_allauth/app/v1/auth/login",
)
_PREFIX = "signin-lockout"


def _account_key(identifier: str) -> str:
    digest = hashlib.sha256(identifier.strip().casefold().encode()).hexdigest()[:32]
    return f"{_PREFIX}:account:{digest}"


def _ip_key(ip: str) -> str:
    return f"{_PREFIX}:ip:{ip}"


def _record(key: str, limit: int) -> None:
    """Count one failure under ``key``; at ``limit`` the key is locked until the window ends."""
    window = settings.SIGN_IN_LOCKOUT_SECONDS
    now = time.time()
    entry = cache.get(key) or {"n": 0, "since": now, "until": 0.0}
    if now - entry["since"] > window:
        entry = {"n": 0, "since": now, "until": 0.0}
    entry["n"] += 1
    if entry["n"] >= limit:
        entry["until"] = now + window
    cache.set(key, entry, timeout=window * 2)


def _remaining(key: str) -> int:
    entry = cache.get(key)
    if not entry:
        return 0
    return max(0, math.ceil(entry["until"] - time.time()))


def record_failure(*, ip: str | None, identifier: str | None) -> None:
    """One failed password sign-in from ``ip`` for ``identifier`` (e-mail or username)."""
    if identifier:
        _record(_account_key(identifier), settings.SIGN_IN_LOCKOUT_ACCOUNT_FAILURES)
    if ip:
        _record(_ip_key(ip), settings.SIGN_IN_LOCKOUT_IP_FAILURES)


def clear_account(identifier: str | None) -> None:
    """A successful sign-in: the account's failures are forgotten (the IP's are not)."""
    if identifier:
        cache.delete(_account_key(identifier))


def locked_seconds(*, ip: str | None, identifier: str | None) -> int:
    """Seconds until ``ip`` and ``identifier`` may try again (0: now)."""
    waits = [_remaining(_ip_key(ip))] if ip else []
    if identifier:
        waits.append(_remaining(_account_key(identifier)))
    return max(waits, default=0)


def _identifier(request: HttpRequest) -> str | None:
    """The account a sign-in request names: allauth's form ``login`` or its API's fields."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        value = data.get("email") or data.get("username") or data.get("login")
    else:
        value = request.POST.get("login") or request.POST.get("username")
    return value if isinstance(value, str) and value else None


class SignInLockoutMiddleware:
    """Answers 429 with ``Retry-After`` to sign-in attempts of a locked account or IP."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in SIGN_IN_PATHS:
            wait = locked_seconds(ip=client_ip(request), identifier=_identifier(request))
            if wait:
                return _locked(request, wait)
        return self.get_response(request)


def _locked(request: HttpRequest, wait: int) -> HttpResponse:
    detail = "Too many failed sign-ins. Try again later."
    response: HttpResponse
    if request.content_type == "application/json" or request.path.startswith("/_allauth/"):
        response = JsonResponse(
            {"detail": detail, "code": "sign_in_locked", "retry_after": wait}, status=429
        )
    else:
        context = {"status": 429, "code": "sign_in_locked", "detail": detail}
        response = render(request, "core/error.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response
