"""Throttles whose rates are read from settings at request time, so they can change live.

Every throttle keys anonymous clients by ``core.client_ip.client_ip`` (the trusted-proxy
rule), never by a raw ``X-Forwarded-For`` header a client can forge.
"""

from django.conf import settings
from rest_framework import throttling

from core.client_ip import client_ip


class _SettingsRate:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)  # type: ignore[attr-defined]

    def get_ident(self, request) -> str:
        return client_ip(request) or "unknown"


class AnonThrottle(_SettingsRate, throttling.AnonRateThrottle):
    pass


class UserThrottle(_SettingsRate, throttling.UserRateThrottle):
    pass


class ScopedThrottle(_SettingsRate, throttling.ScopedRateThrottle):
    """For views that set `throttle_scope` (sign-in, sign-up, SIWE)."""
