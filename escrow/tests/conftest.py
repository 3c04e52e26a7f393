"""Escrow fixtures: two real anvil chains (local-a, local-b) with the HTLC, the Escrow and
the test token deployed through the chains app (``network_bootstrap``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chains import selectors as chain_selectors
from chains.services import network_bootstrap
from chains.tests.support import Chain, network_config, start_chain
from testing.support import clear_run_cache


@pytest.fixture(scope="session")
def escrow_chains() -> Iterator[tuple[Chain, Chain]]:
    a, b = start_chain(31337), start_chain(31338)
    with a.node, b.node:
        yield a, b


@pytest.fixture
def escrow_env(settings, escrow_chains):
    """Both chains configured (one confirmation), contracts deployed, no write throttles."""
    a, b = escrow_chains
    settings.CHAIN_NETWORKS = [
        network_config("local-a", 31337, a.node.rpc_url, confirmations=1),
        network_config("local-b", 31338, b.node.rpc_url, confirmations=1),
    ]
    settings.SITE_URL = "https://swap.example"
    settings.ESCROW_FEE_BPS = 100
    settings.ESCROW_TREASURY_ADDRESS = ""
    clear_run_cache()
    for network in chain_selectors.network_list():
        network_bootstrap(network=network, test_token=True)
    yield a, b
    clear_run_cache()
