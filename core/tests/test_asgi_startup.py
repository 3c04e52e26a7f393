"""A web process imports its URLconf and views when it starts, not in its first request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_loading_the_asgi_application_imports_every_view_module():
    # given: a fresh interpreter, as uvicorn starts a worker
    probe = (
        "import sys, config.asgi; "
        "print(all(m in sys.modules for m in ('config.urls', 'marketplace.views', "
        "'swaps.api.views', 'accounts.ii_views')))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    # when
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "True"
