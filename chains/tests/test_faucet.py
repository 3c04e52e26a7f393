"""The DEBUG-only demo faucet: test ETH and TEST on the local chains, to a linked wallet."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account

from accounts.tests.factories import UserFactory, WalletFactory
from chains import compiler, faucet, services
from chains.selectors import network_get
from chains.tests.support import network_config, start_chain

pytestmark = pytest.mark.django_db

TOKEN = services.TEST_TOKEN_SPEC


@pytest.fixture(scope="module")
def chain():
    node = start_chain(31337)
    yield node
    node.node.stop()


@pytest.fixture
def local_a(chain, settings):
    settings.CHAIN_NETWORKS = [network_config("local-a", 31337, chain.node.rpc_url)]
    network = network_get("local-a")
    deployed = services.contract_deploy(
        network=network,
        contract=services.TEST_TOKEN,
        args=(TOKEN.name, TOKEN.symbol, TOKEN.decimals),
        label=TOKEN.symbol,
    )
    services.asset_upsert(
        network=network,
        symbol=TOKEN.symbol,
        decimals=TOKEN.decimals,
        address=deployed.deployment.address,
        is_test=True,
    )
    return deployed.deployment.address


def _token_balance(chain, token: str, address: str) -> int:
    contract = chain.w3.eth.contract(address=token, abi=compiler.compile_contract("TestToken").abi)
    return contract.functions.balanceOf(address).call()


def test_faucet_sends_test_eth_and_mints_test_on_the_local_chain(chain, local_a, settings):
    # given
    settings.DEBUG = True
    address = Account.create().address
    # when
    sent = faucet.faucet_send(address=address)
    # then
    assert [(s.network, s.symbol, s.amount, s.ok) for s in sent] == [
        ("local-a", "ETH", Decimal("1"), True),
        ("local-a", "TEST", Decimal("1000"), True),
    ]
    assert chain.w3.eth.get_balance(address) == 10**18
    assert _token_balance(chain, local_a, address) == 1000 * 10**6


def test_faucet_refuses_with_debug_off(settings):
    # given
    settings.DEBUG = False
    # then
    with pytest.raises(faucet.FaucetClosed):
        faucet.faucet_send(address=Account.create().address)


def test_faucet_page_is_404_with_debug_off(client, settings):
    # given
    settings.DEBUG = False
    client.force_login(UserFactory())
    # then
    assert client.get("/faucet/").status_code == 404
    assert client.post("/faucet/", {"address": Account.create().address}).status_code == 404


def test_faucet_page_pays_only_the_users_own_wallets(chain, local_a, client, settings):
    # given
    settings.DEBUG = True
    wallet = WalletFactory(user=UserFactory())
    stranger = Account.create().address
    client.force_login(wallet.user)
    # when
    page = client.get("/faucet/")
    refused = client.post("/faucet/", {"address": stranger}, follow=True)
    paid = client.post("/faucet/", {"address": wallet.address}, follow=True)
    # then
    assert page.status_code == 200 and wallet.address in page.content.decode()
    assert "Choose one of your linked wallets." in refused.content.decode()
    assert chain.w3.eth.get_balance(stranger) == 0
    assert "Sent 1000 TEST on local-a." in paid.content.decode()
    assert _token_balance(chain, local_a, wallet.address) >= 1000 * 10**6


def test_the_header_offers_the_faucet_only_with_debug_on(client, settings):
    # given
    client.force_login(UserFactory())
    # when
    settings.DEBUG = False
    off = client.get("/market/").content.decode()
    settings.DEBUG = True
    on = client.get("/market/").content.decode()
    # then
    assert 'href="/faucet/"' not in off and 'href="/faucet/"' in on
