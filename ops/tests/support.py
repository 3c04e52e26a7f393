"""Shared helpers of the ops tests."""

from __future__ import annotations

import shutil

import pytest


def require_binary(name: str, package: str) -> str:
    """The path of `name`, or skip the test saying which Debian package provides it."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found: apt-get install {package} (make ops-deps)")
    return found
