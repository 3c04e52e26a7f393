"""Swaps fixtures: two real anvil chains (local-a, local-b) with the HTLC and the test token
deployed through the chains app, and signed-in parties with real eth-account keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from chains import selectors as chain_selectors
from chains.services import network_bootstrap
from chains.tests.support import Chain, network_config, start_chain
from marketplace.tests.support import publish_prices
from swaps.tests.factories import eth_test_listing, party
from testing.support import clear_run_cache


@pytest.fixture(scope="session")
def chains_ab() -> Iterator[tuple[Chain, Chain]]:
    a, b = start_chain(31337), start_chain(31338)
    with a.node, b.node:
        yield a, b


@pytest.fixture
def swap_env(settings, chains_ab):
    """Both chains configured (one confirmation), contracts deployed, prices fixed, no throttles."""
    a, b = chains_ab
    settings.CHAIN_NETWORKS = [
        network_config("local-a", 31337, a.node.rpc_url, confirmations=1),
        network_config("local-b", 31338, b.node.rpc_url, confirmations=1),
    ]
    settings.SITE_URL = "https://swap.example"
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "swap_write": "1000/minute"}
    clear_run_cache()
    publish_prices(settings, {"TEST-USD": "1.00", "ETH-USD": "2.50"})
    for network in chain_selectors.network_list():
        network_bootstrap(network=network, test_token=True)
    yield a, b
    clear_run_cache()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def listing(swap_env):
    """Maker (dev account 1) sells ETH on local-a for TEST on local-b (factories)."""
    maker, maker_key = party(1)
    return eth_test_listing(maker, maker_key)


@pytest.fixture
def taker_api(api, swap_env):
    """The API as the taker (dev account 2)."""
    api.force_authenticate(party(2)[0])
    return api
