"""Throttles whose rates are read from settings at request time, so they can change live."""

from django.conf import settings
from rest_framework import throttling


class _SettingsRate:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_SettingsRate, throttling.AnonRateThrottle):
    pass


class UserThrottle(_SettingsRate, throttling.UserRateThrottle):
    pass


class ScopedThrottle(_SettingsRate, throttling.ScopedRateThrottle):
    """For views that set `throttle_scope` (sign-in, sign-up, SIWE)."""
