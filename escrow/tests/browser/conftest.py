"""The project's browser fixtures (Chromium driven by Playwright against the real ASGI app,
two anvils), reused for the shop's purchase flow; without Chromium these tests skip."""

from core.tests.browser.conftest import (  # noqa: F401 (fixtures, by name)
    browser,
    chains,
    chromium_path,
    live,
    live_server_asgi,
)
