"""The oracle's settings, each with its default, read at call time.

Every value is read with ``getattr(settings, NAME, default)`` so the oracle works
before the settings exist in ``config/settings/base.py`` and so tests can override
them with pytest-django's ``settings`` fixture. Decimal thresholds accept ``str``,
``int`` or ``Decimal`` and refuse ``float`` (a float threshold is already rounded).

The source URLs are the one exception that reads ``os.environ`` here
(``ORACLE_<SOURCE>_URL``); that belongs in ``base.py`` and moves there with the
settings. Precedence: ``settings.ORACLE_SOURCE_URLS[name]`` > environment > default.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Public REST bases of the exchanges (no keys needed); paths are added by each adapter.
DEFAULT_SOURCE_URLS = {
    "coinbase": "https://api.exchange.coinbase.com",
    "kraken": "https://api.kraken.com",
    "binance": "https://api.binance.com",
    "coingecko": "https://api.coingecko.com",
}
# Environment variable overriding each source URL (moves to base.py with the settings).
SOURCE_URL_ENV = {
    "coinbase": "ORACLE_COINBASE_URL",
    "kraken": "ORACLE_KRAKEN_URL",
    "binance": "ORACLE_BINANCE_URL",
    "coingecko": "ORACLE_COINGECKO_URL",
}

DEFAULTS: dict[str, Any] = {
    # Seconds each HTTP request to a source may take, connect to last byte.
    "ORACLE_HTTP_TIMEOUT": 5.0,
    # Seconds after which a REST quote (by the provider's own timestamp) is stale.
    "ORACLE_MAX_AGE_SECONDS": 30,
    # Per-source overrides of ORACLE_MAX_AGE_SECONDS: CoinGecko refreshes its
    # simple/price cache only every 60 s, so 30 s would exclude it most of the time.
    "ORACLE_SOURCE_MAX_AGE_SECONDS": {"coingecko": 120},
    # Seconds a provider timestamp may lie ahead of our clock before the quote is invalid.
    "ORACLE_MAX_CLOCK_SKEW_SECONDS": 5,
    # A source further than this percentage from the median of the fresh ones is excluded.
    "ORACLE_MAX_DEVIATION_PCT": Decimal("2"),
    # Fresh agreeing sources needed for status "ok".
    "ORACLE_QUORUM": 3,
    # Fresh agreeing sources needed for status "degraded"; fewer halts the pair.
    "ORACLE_DEGRADED_MIN": 2,
    # The pair halts when the agreeing sources span more than this percentage of the price.
    "ORACLE_HALT_SPREAD_PCT": Decimal("5"),
    # A price moving more than this percentage within the jump window needs a quorum.
    "ORACLE_MAX_JUMP_PCT": Decimal("10"),
    # Seconds during which the last published price is the reference for the jump guard.
    "ORACLE_JUMP_WINDOW_SECONDS": 60,
    # Fixed prices of local test tokens, pair -> decimal string; published as fixed.
    "ORACLE_FIXED_PRICES": {"TEST-USD": "1.00"},
}


def _get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


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
    return list(getattr(settings, "ORACLE_SOURCES", ["coinbase", "kraken", "binance", "coingecko"]))


def source_urls() -> dict[str, str]:
    """Base URL of every known source (settings > environment > default)."""
    urls = {
        name: os.environ.get(SOURCE_URL_ENV[name]) or default
        for name, default in DEFAULT_SOURCE_URLS.items()
    }
    urls.update(getattr(settings, "ORACLE_SOURCE_URLS", {}))
    return urls


def source_url(name: str) -> str:
    """Base URL of one source. Raises ``ImproperlyConfigured`` for an unknown name."""
    try:
        return source_urls()[name]
    except KeyError:
        raise ImproperlyConfigured(f"no URL configured for oracle source {name!r}") from None


def http_timeout() -> float:
    value = _get("ORACLE_HTTP_TIMEOUT")
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ImproperlyConfigured(f"ORACLE_HTTP_TIMEOUT must be positive, got {value!r}")
    return float(value)


def max_age_seconds() -> int:
    return _positive_int("ORACLE_MAX_AGE_SECONDS", _get("ORACLE_MAX_AGE_SECONDS"))


def source_max_age_seconds() -> dict[str, int]:
    raw = _get("ORACLE_SOURCE_MAX_AGE_SECONDS")
    return {
        name: _positive_int(f"ORACLE_SOURCE_MAX_AGE_SECONDS[{name!r}]", v)
        for name, v in raw.items()
    }


def max_clock_skew_seconds() -> int:
    value = _get("ORACLE_MAX_CLOCK_SKEW_SECONDS")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ImproperlyConfigured(f"ORACLE_MAX_CLOCK_SKEW_SECONDS must be >= 0, got {value!r}")
    return value


def max_deviation_pct() -> Decimal:
    return _decimal("ORACLE_MAX_DEVIATION_PCT", _get("ORACLE_MAX_DEVIATION_PCT"))


def quorum() -> int:
    return _positive_int("ORACLE_QUORUM", _get("ORACLE_QUORUM"))


def degraded_min() -> int:
    return _positive_int("ORACLE_DEGRADED_MIN", _get("ORACLE_DEGRADED_MIN"))


def halt_spread_pct() -> Decimal:
    return _decimal("ORACLE_HALT_SPREAD_PCT", _get("ORACLE_HALT_SPREAD_PCT"))


def max_jump_pct() -> Decimal:
    return _decimal("ORACLE_MAX_JUMP_PCT", _get("ORACLE_MAX_JUMP_PCT"))


def jump_window_seconds() -> int:
    return _positive_int("ORACLE_JUMP_WINDOW_SECONDS", _get("ORACLE_JUMP_WINDOW_SECONDS"))


def fixed_prices() -> dict[str, Decimal]:
    """Configured fixed prices by pair (``"TEST-USD"``), as Decimals."""
    raw = _get("ORACLE_FIXED_PRICES")
    return {pair.upper(): _decimal(f"ORACLE_FIXED_PRICES[{pair!r}]", v) for pair, v in raw.items()}


def user_agent() -> str:
    """User-Agent sent to every source: names the project and where to reach it."""
    site = getattr(settings, "SITE_URL", "")
    return f"p2p-swap-market-oracle/0.1 (+{site})" if site else "p2p-swap-market-oracle/0.1"
