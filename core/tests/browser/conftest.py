"""Browser tests: Debian's Chromium, driven by Playwright, against the real ASGI app.

Without /usr/bin/chromium (`make chromium`, or `.ci/run`, installs it) every test here is
skipped with that reason, which `-ra` prints at the end of `make test`.

Playwright's sync API keeps an event loop running in the test's thread while it is started,
and Django refuses ORM calls from such a thread; so each test starts and stops its own
Playwright (about a second), and tests reach the database through `orm()`, which runs a
function in a fresh thread.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings as django_settings

from chains.anvil import AnvilProcess, free_port, start_anvil
from testing.support import clear_run_cache

from .server import LiveAsgiServer

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# NOTES.md: without the background-networking flags Chromium floods the closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHAIN_A, CHAIN_B = 31337, 31338
EXPLORER_B = "https://explorer.example"
SCREENSHOTS = Path(django_settings.BASE_DIR) / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}

T = TypeVar("T")


def orm(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` (which uses the ORM) in a new thread and return its result."""

    def run() -> T:
        from django.db import connections

        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM}: run `make chromium` "
            "(apt-get install chromium chromium-driver); CI installs it"
        )
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")
    return CHROMIUM


@pytest.fixture(scope="session")
def live_server_asgi(chromium_path) -> Iterator[LiveAsgiServer]:
    """The whole app (pages, API, WebSockets, static files) on a loopback port."""
    server = LiveAsgiServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chains(chromium_path) -> Iterator[dict[int, AnvilProcess]]:
    """Two real anvil chains, as `make run` starts them."""
    a = start_anvil(port=free_port(), chain_id=CHAIN_A)
    try:
        b = start_anvil(port=free_port(), chain_id=CHAIN_B)
    except BaseException:
        a.stop()
        raise
    with a, b:
        yield {CHAIN_A: a, CHAIN_B: b}


def _network(name: str, chain_id: int, rpc_url: str, explorer_url: str = "") -> dict:
    return {
        "name": name,
        "chain_id": chain_id,
        "rpc_url": rpc_url,
        "public_rpc_url": rpc_url,
        "confirmations": 1,
        "block_time": 1,
        "explorer_url": explorer_url,
        "native_symbol": "ETH",
        "enabled": True,
    }


@pytest.fixture
def live(live_server_asgi, chains, settings, transactional_db) -> Iterator[LiveAsgiServer]:
    """The served app for one test: SIWE bound to its URL, both anvils configured (local-b
    with an explorer), rate limits and cache empty. Rows a test commits are seen by the
    server, and are flushed afterwards."""
    settings.SITE_URL = live_server_asgi.url
    settings.CHAIN_NETWORKS = [
        _network("local-a", CHAIN_A, chains[CHAIN_A].rpc_url),
        _network("local-b", CHAIN_B, chains[CHAIN_B].rpc_url, EXPLORER_B),
    ]
    clear_run_cache()
    yield live_server_asgi
    clear_run_cache()


class Browser:
    """One Playwright and one Chromium for one test; new contexts collect console errors."""

    def __init__(self, executable: Path) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=str(executable), args=CHROMIUM_ARGS
            )
        except BaseException:
            self._playwright.stop()
            raise
        self.console_errors: list[str] = []

    def context(self, viewport: dict | None = None, **kwargs: Any):
        context = self.browser.new_context(viewport=viewport or DESKTOP, **kwargs)
        context.set_default_timeout(15_000)

        def watch(page) -> None:
            page.on(
                "console",
                lambda msg: (
                    self.console_errors.append(f"{page.url}: {msg.text}")
                    if msg.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda exc: self.console_errors.append(f"{page.url}: {exc}"))

        context.on("page", watch)
        return context

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()


@pytest.fixture
def browser(chromium_path, live) -> Iterator[Browser]:
    """Started after `live` (and so after the database), stopped before it is flushed."""
    session = Browser(chromium_path)
    yield session
    session.close()


def signed_in_cookie(user, url: str) -> dict:
    """A session cookie for `user`, as Django's test client makes it (call through orm())."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    return {"name": cookie.key, "value": cookie.value, "url": url}


def accept_terms_on_first_sign_in(page, live, next_path: str) -> None:
    """A new wallet account is asked for the terms before anything else (accounts.terms):
    tick the box, accept, and land where the sign-in was going."""
    page.wait_for_url(re.compile(rf"{re.escape(live.url)}/terms/accept/\?next="))
    page.get_by_label("I accept the terms of service and the privacy notice").check()
    page.get_by_role("button", name="Accept and continue").click()
    page.wait_for_url(f"{live.url}{next_path}")
