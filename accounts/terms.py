"""Terms of service: nobody uses the site or the API on terms they have not accepted.

A signed-in user (session or bearer token) whose ``terms_version`` is not the current
``TERMS_VERSION`` (a new wallet account, or anyone after the terms changed) is sent to
``/terms/accept/`` on pages, and gets 403 ``terms_not_accepted`` from the API, until they
accept: on that page, with ``POST /api/v1/me/terms``, or with ``accept_terms`` in the SIWE
sign-in. Reading and deleting one's own account, signing out, allauth's account pages and
the staff console stay open.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

# Pages open without accepted terms (prefixes), and API paths (exact or prefix).
OPEN_PAGE_PREFIXES = (
    "/terms/",
    "/privacy/",
    "/accounts/",
    "/_allauth/",
    "/admin/",
    "/i18n/",
    "/static/",
    "/media/",
    "/avatars/",
    "/health/",
    "/metrics",
    "/profile/delete/",
)
OPEN_API_PREFIXES = ("/api/v1/auth/", "/api/schema/", "/api/docs/")
OPEN_API_PATHS = ("/api/v1/me", "/api/v1/me/terms")


def terms_current(user: User) -> bool:
    return user.terms_version == settings.TERMS_VERSION


def _bearer_user_terms(request: HttpRequest) -> str | None:
    """The terms version of the user a valid bearer access token names, or None."""
    kind, _, raw = request.headers.get("Authorization", "").partition(" ")
    if kind != "Bearer" or not raw.strip():
        return None
    try:
        token = AccessToken(raw.strip())  # type: ignore[arg-type]
    except TokenError:
        return None  # the API's authentication answers for a bad token
    found = User.objects.filter(pk=token.get("user_id"), is_active=True)
    return found.values_list("terms_version", flat=True).first()


def _open(path: str) -> bool:
    if path.startswith("/api/"):
        return path in OPEN_API_PATHS or path.startswith(OPEN_API_PREFIXES)
    return path == "/favicon.ico" or path.startswith(OPEN_PAGE_PREFIXES)


def _refusal(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {
                "detail": "Accept the terms of service first (POST /api/v1/me/terms).",
                "code": "terms_not_accepted",
                "terms_version": settings.TERMS_VERSION,
            },
            status=403,
        )
    return HttpResponseRedirect("/terms/accept/?" + urlencode({"next": request.get_full_path()}))


class TermsRequiredMiddleware:
    """Sends signed-in users who have not accepted the current terms to accept them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _open(request.path):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                if not terms_current(user):
                    return _refusal(request)
            elif request.path.startswith("/api/"):
                version = _bearer_user_terms(request)
                if version is not None and version != settings.TERMS_VERSION:
                    return _refusal(request)
        return self.get_response(request)
