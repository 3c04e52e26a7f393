"""Shared helpers of the ops tests."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings


def require_ops_installed() -> None:
    """Skip the calling test module, saying why, when the ops app is not installed."""
    if "ops" not in settings.INSTALLED_APPS:
        pytest.skip(
            "ops is not in INSTALLED_APPS (run with DJANGO_SETTINGS_MODULE=ops.tests.settings)",
            allow_module_level=True,
        )


def require_binary(name: str, package: str) -> str:
    """The path of `name`, or skip the test saying which Debian package provides it."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found: apt-get install {package} (make ops-deps)")
    return found
