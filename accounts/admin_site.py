"""The operations console's door: staff sign in only through allauth's login (lockout, rate
limits, 2FA), never through Django admin's own password form, and, where
``STAFF_MFA_REQUIRED`` is on (production), only in a session that passed a second factor
(TOTP or WebAuthn, allauth.mfa)."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def session_used_mfa(request: HttpRequest) -> bool:
    """Whether this session's sign-in passed allauth's second-factor stage."""
    records = get_authentication_records(request, request.user)  # type: ignore[arg-type]
    return any(record.get("method") == "mfa" for record in records)


def staff_may_enter(request: HttpRequest) -> bool:
    user = request.user
    if not (user.is_active and user.is_staff):
        return False
    return not settings.STAFF_MFA_REQUIRED or session_used_mfa(request)


class StaffAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return staff_may_enter(request)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:  # type: ignore[override]
        """No password form here: send staff to the one protected sign-in, or to 2FA setup."""
        next_url = request.GET.get("next") or reverse("admin:index")
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            next_url = reverse("admin:index")
        user = request.user
        if user.is_authenticated and user.is_staff and not staff_may_enter(request):
            if not is_mfa_enabled(user):
                messages.warning(request, "Staff must set up two-factor authentication first.")
                return HttpResponseRedirect(reverse("mfa_index"))
            # A second factor exists but this session did not use it (e.g. a wallet sign-in).
            logout(request)
        if user.is_authenticated and staff_may_enter(request):
            return HttpResponseRedirect(next_url)
        return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': next_url})}")
