"""allauth's hooks into the project: the client IP follows the trusted-proxy rule."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.language import active_language
from core.client_ip import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        """The same client address as the API throttles and the audit log use."""
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def new_user(self, request: HttpRequest):
        """A new account starts in the language it signed up in."""
        user = super().new_user(request)
        user.preferred_language = active_language()
        return user
