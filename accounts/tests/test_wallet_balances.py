"""Wallet balances on /api/v1/me/wallets and /profile/wallets/, read from the session anvil."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from eth_account import Account

from accounts.tests.conftest import CHAIN_ID, network
from accounts.tests.factories import UserFactory, WalletFactory
from chains import selectors as chain_selectors
from chains import services as chain_services
from chains.anvil import free_port, rpc_call
from chains.keys import anvil_dev_account
from chains.tests.support import RpcProxy

pytestmark = pytest.mark.django_db

# anvil's development account 3: network_bootstrap mints it 1,000,000 TEST on every new token.
HOLDER = anvil_dev_account(3).address
HOLDER_WEI = 2_500_000_000_000_000_123  # 2.500000000000000123 ETH


@pytest.fixture
def assets(anvil):
    """ETH and the TEST token (6 decimals) registered on the session anvil; HOLDER funded."""
    chain_services.network_bootstrap(
        network=chain_selectors.network_get("local-a"), test_token=True
    )
    rpc_call(anvil.rpc_url, "anvil_setBalance", [HOLDER, hex(HOLDER_WEI)])


@pytest.fixture
def proxy(anvil):
    front = RpcProxy(anvil.rpc_url)
    yield front
    front.close()


def _balances(body: dict) -> dict[str, list[tuple]]:
    return {
        wallet["address"]: [
            (b["network"], b["symbol"], b["decimals"], b["amount"], b["status"])
            for b in wallet["balances"]
        ]
        for wallet in body["results"]
    }


def test_wallets_api_lists_each_wallet_with_its_exact_balances(client, assets):
    # given
    user = UserFactory()
    empty = Account.create().address
    WalletFactory(user=user, address=HOLDER)
    WalletFactory(user=user, address=empty)
    client.force_login(user)
    # when
    response = client.get("/api/v1/me/wallets")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert _balances(body) == {
        HOLDER: [
            ("local-a", "ETH", 18, "2.500000000000000123", "ok"),
            ("local-a", "TEST", 6, "1000000.000000", "ok"),
        ],
        empty: [
            ("local-a", "ETH", 18, "0.000000000000000000", "ok"),
            ("local-a", "TEST", 6, "0.000000", "ok"),
        ],
    }
    token = body["results"][0]["balances"][1]
    assert token["token"] == chain_selectors.asset_list().get(symbol="TEST").address
    assert body["results"][0]["balances"][0]["token"] is None
    # every field the endpoint had before balances is still there
    assert {"address", "chain_id", "created_at"} <= set(body["results"][0])


def test_wallets_api_marks_the_rows_of_a_down_network_unavailable(client, settings, anvil):
    # given: local-b's RPC URL is a closed port
    settings.CHAIN_NETWORKS = [
        network("local-a", CHAIN_ID, anvil.rpc_url),
        network("local-b", 31338, f"http://127.0.0.1:{free_port()}"),
    ]
    for name in ("local-a", "local-b"):
        chain_services.asset_upsert(
            network=chain_selectors.network_get(name), symbol="ETH", decimals=18
        )
    user = UserFactory()
    WalletFactory(user=user, address=HOLDER)
    rpc_call(anvil.rpc_url, "anvil_setBalance", [HOLDER, hex(HOLDER_WEI)])
    client.force_login(user)
    # when
    response = client.get("/api/v1/me/wallets")
    # then
    assert response.status_code == 200
    assert _balances(response.json()) == {
        HOLDER: [
            ("local-a", "ETH", 18, "2.500000000000000123", "ok"),
            ("local-b", "ETH", 18, None, "unavailable"),
        ]
    }


def test_wallets_api_reads_the_chain_once_then_serves_the_cache(client, settings, proxy):
    # given
    settings.WALLET_BALANCE_CACHE_SECONDS = 30
    settings.CHAIN_NETWORKS = [network("local-a", CHAIN_ID, proxy.url)]
    chain_services.asset_upsert(
        network=chain_selectors.network_get("local-a"), symbol="ETH", decimals=18
    )
    user = UserFactory()
    WalletFactory(user=user)
    client.force_login(user)
    # when
    first = client.get("/api/v1/me/wallets").json()
    after_first = proxy.requests
    second = client.get("/api/v1/me/wallets").json()
    # then
    assert after_first == 1
    assert proxy.requests == after_first
    assert second == first


def test_wallets_api_works_with_a_jwt(api, assets):
    # given
    from accounts import services

    user = UserFactory()
    WalletFactory(user=user, address=HOLDER)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {services.jwt_pair_issue(user=user)['access']}")
    # when
    response = api.get("/api/v1/me/wallets")
    # then
    assert response.status_code == 200
    assert _balances(response.json())[HOLDER][1] == ("local-a", "TEST", 6, "1000000.000000", "ok")


def test_wallets_api_query_count_does_not_grow_with_wallets(client, assets):
    # given
    one, many = UserFactory(), UserFactory()
    WalletFactory(user=one)
    WalletFactory.create_batch(6, user=many)

    def queries(user) -> int:
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/me/wallets").status_code == 200
        return len(captured)

    # when / then
    assert queries(one) == queries(many)


def test_wallets_page_shows_balances_and_unavailable_networks(client, settings, anvil, assets):
    # given
    settings.CHAIN_NETWORKS = [
        *settings.CHAIN_NETWORKS,
        network("local-b", 31338, f"http://127.0.0.1:{free_port()}"),
    ]
    chain_services.asset_upsert(
        network=chain_selectors.network_get("local-b"), symbol="ETH", decimals=18
    )
    user = UserFactory()
    WalletFactory(user=user, address=HOLDER)
    client.force_login(user)
    # when
    html = client.get("/profile/wallets/").content.decode()
    # then
    rows = re.findall(
        r'<tr data-network="([^"]+)" data-symbol="([^"]+)" data-status="([^"]+)">\s*'
        r"<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>(.*?)</td>",
        html,
        re.S,
    )
    assert [(n, s, st, cell if st == "ok" else "") for n, s, st, cell in rows] == [
        ("local-a", "ETH", "ok", "2.500000000000000123"),
        ("local-a", "TEST", "ok", "1000000"),
        ("local-b", "ETH", "unavailable", ""),
    ]
    assert "unavailable, try again shortly" in html


def test_wallets_page_without_assets_says_so(client):
    # given
    user = UserFactory()
    WalletFactory(user=user)
    client.force_login(user)
    # when
    html = client.get("/profile/wallets/").content.decode()
    # then
    assert "No asset is configured yet" in html


def test_openapi_documents_the_balances_of_each_wallet(client):
    # when
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    # then
    ok = schema["paths"]["/api/v1/me/wallets"]["get"]["responses"]["200"]
    page = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    item = schema["components"]["schemas"][page]["properties"]["results"]["items"]["$ref"]
    wallet = schema["components"]["schemas"][item.rsplit("/", 1)[-1]]
    assert {"address", "chain_id", "created_at", "balances"} <= set(wallet["properties"])
    balance_ref = wallet["properties"]["balances"]["items"]["$ref"].rsplit("/", 1)[-1]
    balance = schema["components"]["schemas"][balance_ref]["properties"]
    assert set(balance) == {
        "network",
        "chain_id",
        "asset_id",
        "symbol",
        "decimals",
        "token",
        "amount",
        "status",
    }
    assert balance["amount"]["nullable"] is True
