"""Browser tests of Internet Identity: Chromium, the real app under uvicorn, the stand-in
Internet Identity window (``testing.internet_identity``) and the IC test server, both
signing with one test root key that ``ICP_ROOT_KEY`` names.

The browser plumbing (Chromium flags, Playwright per test, ``orm()``) is the one of
``core/tests/browser``; no EVM chain is needed here, so no anvil is started.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.tests.browser.conftest import Browser, chromium_path  # noqa: F401 (a fixture)
from core.tests.browser.server import LiveAsgiServer
from testing.icp_server import IcpTestServer
from testing.internet_identity import InternetIdentityServer
from testing.support import clear_run_cache

ICP_TOKENS = [{"symbol": "ICP", "ledger": "ryjl3-tyaaa-aaaaa-aaaba-cai", "decimals": 8}]


@pytest.fixture(scope="session")
def ii_live_server(chromium_path) -> Iterator[LiveAsgiServer]:  # noqa: F811
    """The whole app on a loopback port (pages, API, static files)."""
    server = LiveAsgiServer().start()
    yield server
    server.stop()


@pytest.fixture
def ic() -> Iterator[IcpTestServer]:
    """The IC test server: a delegated subnet with the ICP ledger, signing for real."""
    with IcpTestServer(delegated=True) as server:
        yield server


@pytest.fixture
def identity(ic) -> Iterator[InternetIdentityServer]:
    """The stand-in Internet Identity window, under the IC test server's root key."""
    with InternetIdentityServer(root=ic.issuer.root) as server:
        yield server


@pytest.fixture
def live(ii_live_server, ic, identity, settings, transactional_db) -> Iterator[LiveAsgiServer]:
    """The served app pointed at the stand-in window and the IC test server."""
    settings.SITE_URL = ii_live_server.url
    settings.CHAIN_NETWORKS = []
    settings.II_PROVIDER_URL = identity.url
    settings.ICP_ROOT_KEY = ic.root_key.hex()
    settings.ICP_HOST = ic.url
    settings.ICP_TOKENS = ICP_TOKENS
    settings.WALLET_BALANCE_RPC_TIMEOUT = 2.0
    clear_run_cache()
    yield ii_live_server
    clear_run_cache()


@pytest.fixture
def browser(chromium_path, live) -> Iterator[Browser]:  # noqa: F811
    """Started after `live` (and so after the database), stopped before it is flushed."""
    session = Browser(chromium_path)
    yield session
    session.close()
