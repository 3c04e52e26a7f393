"""ICP balances of a proven principal on /api/v1/me/wallets and /profile/wallets/, read
from the local IC test server (answers signed with its test root key and verified), and
the pages that open the Internet Identity window."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory, WalletFactory
from chains.anvil import free_port
from chains.icp import ICP_LEDGER_CANISTER_ID
from testing.icp_server import IcpTestServer

pytestmark = pytest.mark.django_db

PRINCIPAL = "rrkah-fqaaa-aaaaa-aaaaq-cai"
CKBTC = "mxzaz-hqaaa-aaaar-qaada-cai"
TOKENS = [
    {"symbol": "ICP", "ledger": ICP_LEDGER_CANISTER_ID, "decimals": 8},
    {"symbol": "ckBTC", "ledger": CKBTC, "decimals": 8},
]


@pytest.fixture
def ic(settings):
    """The IC test server (a delegated subnet), and the site pointed at it."""
    with IcpTestServer(other_ledgers=(CKBTC,), delegated=True) as server:
        settings.ICP_HOST = server.url
        settings.ICP_ROOT_KEY = server.root_key.hex()
        settings.ICP_TOKENS = TOKENS
        settings.WALLET_BALANCE_RPC_TIMEOUT = 1.0
        yield server


def proven(**kwargs):
    return UserFactory(icp_principal=PRINCIPAL, icp_principal_proven_at=timezone.now(), **kwargs)


def _icp_entry(body: dict) -> dict:
    (entry,) = [w for w in body["results"] if w["address"] == PRINCIPAL]
    return entry


def test_wallets_api_lists_a_proven_principal_with_its_exact_icp_balances(client, ic):
    # given: 12.5 ICP and one satoshi of ckBTC, next to an EVM wallet without assets
    ic.set_balance(PRINCIPAL, 1_250_000_000)
    ic.set_balance(PRINCIPAL, 1, ledger_canister_id=CKBTC)
    user = proven()
    WalletFactory(user=user)
    client.force_login(user)
    # when
    response = client.get("/api/v1/me/wallets")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    entry = body["results"][-1]
    assert entry["address"] == PRINCIPAL and entry["chain_id"] == 0 and entry["created_at"]
    assert entry["balances"] == [
        {
            "network": "icp",
            "chain_id": 0,
            "asset_id": 0,
            "symbol": "ICP",
            "decimals": 8,
            "token": ICP_LEDGER_CANISTER_ID,
            "amount": "12.50000000",
            "status": "ok",
        },
        {
            "network": "icp",
            "chain_id": 0,
            "asset_id": 0,
            "symbol": "ckBTC",
            "decimals": 8,
            "token": CKBTC,
            "amount": "0.00000001",
            "status": "ok",
        },
    ]
    # the EVM wallet keeps its shape
    assert set(body["results"][0]) == set(entry)
    assert ic.requests_to("query")  # read from the IC, verified


def test_wallets_api_marks_icp_rows_unavailable_when_the_ic_cannot_be_reached(client, settings):
    # given: nothing listens at the IC host
    settings.ICP_HOST = f"http://127.0.0.1:{free_port()}"
    settings.ICP_TOKENS = TOKENS
    settings.WALLET_BALANCE_RPC_TIMEOUT = 1.0
    client.force_login(proven())
    # when
    response = client.get("/api/v1/me/wallets")
    # then
    assert response.status_code == 200
    rows = [
        (b["symbol"], b["amount"], b["status"]) for b in _icp_entry(response.json())["balances"]
    ]
    assert rows == [("ICP", None, "unavailable"), ("ckBTC", None, "unavailable")]


def test_wallets_api_refuses_answers_signed_under_another_root_key(client, ic, settings):
    # given: the site trusts another root key than the one the server signs with
    from testing.icp_certification import BlsKey

    settings.ICP_ROOT_KEY = BlsKey().der.hex()
    ic.set_balance(PRINCIPAL, 10**8)
    client.force_login(proven())
    # when
    response = client.get("/api/v1/me/wallets")
    # then: a forged balance is never shown
    assert {b["status"] for b in _icp_entry(response.json())["balances"]} == {"unavailable"}


def test_wallets_api_does_not_list_a_principal_that_was_only_typed_in(client, ic):
    # given: a principal claimed before proof was required
    client.force_login(UserFactory(icp_principal=PRINCIPAL))
    # when
    body = client.get("/api/v1/me/wallets").json()
    # then
    assert body["count"] == 0 and body["results"] == []
    assert ic.requests == []


def test_wallets_api_query_count_is_the_same_with_a_principal(client, ic):
    # given
    plain, with_principal = UserFactory(), proven()
    WalletFactory(user=plain)
    WalletFactory(user=with_principal)

    def queries(user) -> int:
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/me/wallets").status_code == 200
        return len(captured)

    # when / then
    assert queries(plain) == queries(with_principal)


def test_wallets_page_shows_the_icp_balances_of_a_proven_principal(client, ic):
    # given
    ic.set_balance(PRINCIPAL, 1_250_000_000)
    client.force_login(proven())
    # when
    response = client.get("/profile/wallets/")
    # then
    html = response.content.decode()
    rows = re.findall(
        r'<tr data-network="icp" data-symbol="([^"]+)" data-status="([^"]+)">\s*'
        r"<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>(.*?)</td>",
        html,
        re.S,
    )
    assert rows == [("ICP", "ok", "12.5"), ("ckBTC", "ok", "0")]
    assert PRINCIPAL in html and "Last proven with Internet Identity" in html
    assert 'data-ii-action="link"' in html


def test_wallets_page_says_a_typed_principal_is_not_proven(client, ic):
    # given
    client.force_login(UserFactory(icp_principal=PRINCIPAL))
    # when
    html = client.get("/profile/wallets/").content.decode()
    # then
    assert "Claimed principal, not proven" in html
    assert 'data-network="icp"' not in html
    assert ic.requests == []


def test_the_wallets_page_no_longer_takes_a_typed_principal(client):
    # given
    user = UserFactory()
    client.force_login(user)
    # when
    response = client.post("/profile/wallets/", {"principal": PRINCIPAL})
    # then
    assert response.status_code == 405
    user.refresh_from_db()
    assert user.icp_principal == ""


@pytest.mark.parametrize("path", ["/accounts/login/", "/profile/wallets/"])
def test_pages_that_open_internet_identity_let_their_popup_answer(client, settings, path):
    # given
    settings.II_PROVIDER_URL = "http://127.0.0.1:9/"
    if path.startswith("/profile"):
        client.force_login(UserFactory())
    # when
    response = client.get(path)
    # then: the window can reach its opener, and the page knows where to open it
    assert response.status_code == 200
    assert response["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups"
    assert 'data-ii-provider="http://127.0.0.1:9/"' in response.content.decode()


def test_other_pages_keep_the_strict_opener_policy(client):
    # when
    response = client.get("/")
    # then
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_sign_in_page_is_still_allauths(client):
    # when: a wrong password through the wrapped view
    UserFactory(email="ada@example.com")
    response = client.post(
        "/accounts/login/", {"login": "ada@example.com", "password": "wrong"}, follow=False
    )
    # then
    assert response.status_code == 200
    assert "Sign in with Internet Identity" in response.content.decode()
