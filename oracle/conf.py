"""The oracle's settings, read from ``django.conf.settings`` at call time and validated.

Each setting, its default and its environment variable are defined once, in
``config/settings/base.py``; this module holds no defaults of its own. Reading at
call time lets tests override a value with pytest-django's ``settings`` fixture.
Decimal thresholds accept ``str``, ``int`` or ``Decimal`` and refuse ``float`` (a
float threshold is already rounded).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _decimal(name: str, value: Any) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str | int) and not isinstance(value, bool):
        try:
            result = Decimal(value)
        except InvalidOperation as exc:
            raise ImproperlyConfigured(f"{name}: {value!r} is not a decimal") from exc
    else:
        raise ImproperlyConfigured(f"{name} must be a str, int or Decimal, not {type(value)}")
    if not result.is_finite():
        raise ImproperlyConfigured(f"{name} must be finite, got {value!r}")
    return result


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ImproperlyConfigured(f"{name} must be a positive int, got {value!r}")
    return value


def enabled_sources() -> list[str]:
    """Names of the sources asked in each round (``ORACLE_SOURCES``)."""
    return list(settings.ORACLE_SOURCES)


def source_url(name: str) -> str:
    """Base URL of one source (``ORACLE_SOURCE_URLS``). Raises ``ImproperlyConfigured`` for an
    unknown name."""
    try:
        return settings.ORACLE_SOURCE_URLS[name]
    except KeyError:
        raise ImproperlyConfigured(f"no URL configured for oracle source {name!r}") from None


def http_timeout() -> float:
    value = settings.ORACLE_HTTP_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ImproperlyConfigured(f"ORACLE_HTTP_TIMEOUT must be positive, got {value!r}")
    return float(value)


def max_age_seconds() -> int:
    return _positive_int("ORACLE_MAX_AGE_SECONDS", settings.ORACLE_MAX_AGE_SECONDS)


def source_max_age_seconds() -> dict[str, int]:
    return {
        name: _positive_int(f"ORACLE_SOURCE_MAX_AGE_SECONDS[{name!r}]", v)
        for name, v in settings.ORACLE_SOURCE_MAX_AGE_SECONDS.items()
    }


def max_clock_skew_seconds() -> int:
    value = settings.ORACLE_MAX_CLOCK_SKEW_SECONDS
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(f"ORACLE_MAX_CLOCK_SKEW_SECONDS must be >= 0, got {value!r}")
    return value


def max_deviation_pct() -> Decimal:
    return _decimal("ORACLE_MAX_DEVIATION_PCT", settings.ORACLE_MAX_DEVIATION_PCT)


def quorum() -> int:
    return _positive_int("ORACLE_QUORUM", settings.ORACLE_QUORUM)


def degraded_min() -> int:
    return _positive_int("ORACLE_DEGRADED_MIN", settings.ORACLE_DEGRADED_MIN)


def halt_spread_pct() -> Decimal:
    return _decimal("ORACLE_HALT_SPREAD_PCT", settings.ORACLE_HALT_SPREAD_PCT)


def max_jump_pct() -> Decimal:
    return _decimal("ORACLE_MAX_JUMP_PCT", settings.ORACLE_MAX_JUMP_PCT)


def jump_window_seconds() -> int:
    return _positive_int("ORACLE_JUMP_WINDOW_SECONDS", settings.ORACLE_JUMP_WINDOW_SECONDS)


def fixed_prices() -> dict[str, Decimal]:
    """Configured fixed prices by pair (``"TEST-USD"``), as Decimals."""
    return {
        pair.upper(): _decimal(f"ORACLE_FIXED_PRICES[{pair!r}]", v)
        for pair, v in settings.ORACLE_FIXED_PRICES.items()
    }


def user_agent() -> str:
    """User-Agent sent to every source: names the project and where to reach it."""
    site = settings.SITE_URL
    return f"p2p-swap-market-oracle/0.1 (+{site})" if site else "p2p-swap-market-oracle/0.1"
