"""Wallet balances read from a real anvil: exact amounts, failing networks, the cache."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest
from django.test import override_settings
from eth_account import Account

from chains import compiler, selectors, services
from chains.anvil import free_port
from chains.balances import OK, UNAVAILABLE, Balance, scaled, wallet_balances
from chains.models import Asset
from chains.tests.support import Chain, RpcProxy, network_config, start_chain, user

pytestmark = pytest.mark.django_db

TOKEN = services.TEST_TOKEN_SPEC  # 6 decimals


@pytest.fixture(scope="module")
def chain():
    node = start_chain(31337)
    yield node
    node.node.stop()


@pytest.fixture
def proxy(chain):
    """A request-counting JSON-RPC proxy in front of the anvil."""
    front = RpcProxy(chain.node.rpc_url)
    yield front
    front.close()


def _configure(*networks: dict):
    return override_settings(CHAIN_NETWORKS=list(networks))


def _register_native(name: str) -> Asset:
    network = selectors.network_get(name)
    return services.asset_upsert(network=network, symbol="ETH", decimals=18, name="Native coin")


def _register_token(name: str) -> Asset:
    """Deploy the TEST token (6 decimals) on ``name`` and register it."""
    network = selectors.network_get(name)
    deployed = services.contract_deploy(
        network=network,
        contract=services.TEST_TOKEN,
        args=(TOKEN.name, TOKEN.symbol, TOKEN.decimals),
        label=TOKEN.symbol,
    )
    return services.asset_upsert(
        network=network,
        symbol=TOKEN.symbol,
        decimals=TOKEN.decimals,
        address=deployed.deployment.address,
        is_test=True,
    )


def _set_eth(chain: Chain, address: str, wei: int) -> None:
    answer = chain.w3.provider.make_request("anvil_setBalance", [address, hex(wei)])
    assert "error" not in answer, answer


def _mint(chain: Chain, token: str, to: str, raw: int) -> None:
    contract = chain.w3.eth.contract(address=token, abi=compiler.compile_contract("TestToken").abi)
    chain.send(user(5), token, contract.encode_abi("mint", args=[to, raw]))


def _row(address: str, asset: Asset, amount: Decimal | None, chain_id: int = 31337) -> Balance:
    return Balance(
        address=address,
        network=asset.network,
        chain_id=chain_id,
        asset_id=asset.pk,
        symbol=asset.symbol,
        decimals=asset.decimals,
        token=asset.address,
        amount=amount,
        status=OK if amount is not None else UNAVAILABLE,
    )


def test_wallet_balances_reads_native_and_token_amounts_exactly(chain):
    # given: a holds 10^12 ETH and one wei (31 digits) and 123.456789 TEST; b holds nothing
    a, b = Account.create().address, Account.create().address
    with _configure(network_config("local-a", 31337, chain.node.rpc_url)):
        eth, token = _register_native("local-a"), _register_token("local-a")
        _set_eth(chain, a, 10**30 + 1)
        _mint(chain, token.address, a, 123_456_789)
        # when
        rows = wallet_balances([a, b])
    # then
    assert rows == [
        _row(a, eth, Decimal("1000000000000.000000000000000001")),
        _row(a, token, Decimal("123.456789")),
        _row(b, eth, Decimal("0.000000000000000000")),
        _row(b, token, Decimal("0.000000")),
    ]
    assert [r.amount.as_tuple().exponent for r in rows] == [-18, -6, -18, -6]


def test_wallet_balances_of_a_demo_holder_match_the_bootstrap_mint(chain):
    # given: network_bootstrap mints 1,000,000 TEST to anvil account 1, which keeps
    # anvil's genesis 10,000 ETH (nothing in this module spends from it)
    holder = user(1).address
    with _configure(network_config("local-a", 31337, chain.node.rpc_url)):
        services.network_bootstrap(network=selectors.network_get("local-a"), test_token=True)
        # when
        rows = wallet_balances([holder.lower()])
    # then
    assert [(r.address, r.symbol, r.amount, r.status) for r in rows] == [
        (holder, "ETH", Decimal("10000"), OK),
        (holder, "TEST", Decimal("1000000.000000"), OK),
    ]


def test_a_down_network_marks_only_its_rows_unavailable(chain):
    # given: local-b points at a port nobody listens on
    address = Account.create().address
    dead = f"http://127.0.0.1:{free_port()}"
    with _configure(
        network_config("local-a", 31337, chain.node.rpc_url),
        network_config("local-b", 31338, dead),
    ):
        eth_a, eth_b = _register_native("local-a"), _register_native("local-b")
        _set_eth(chain, address, 7 * 10**17)
        # when
        rows = wallet_balances([address])
    # then
    assert rows == [
        _row(address, eth_a, Decimal("0.700000000000000000")),
        _row(address, eth_b, None, chain_id=31338),
    ]


def test_a_node_answering_for_another_chain_is_unavailable(chain):
    # given: local-b is configured as chain 31338 but its URL is the 31337 anvil
    address = Account.create().address
    with _configure(network_config("local-b", 31338, chain.node.rpc_url)):
        _register_native("local-b")
        # when
        rows = wallet_balances([address])
    # then
    assert [(r.status, r.amount) for r in rows] == [(UNAVAILABLE, None)]


def test_a_node_that_never_answers_is_given_up_after_the_timeout(chain, settings):
    # given: a socket that accepts connections and never answers
    settings.WALLET_BALANCE_RPC_TIMEOUT = 0.5
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        with _configure(
            network_config("local-a", 31337, chain.node.rpc_url),
            network_config("local-b", 31338, url),
        ):
            _register_native("local-a")
            _register_native("local-b")
            # when
            started = time.monotonic()
            rows = wallet_balances([Account.create().address])
            elapsed = time.monotonic() - started
    finally:
        silent.close()
    # then
    assert [r.status for r in rows] == [OK, UNAVAILABLE]
    assert elapsed < 2.0, elapsed


def test_a_node_answering_503_is_unavailable(chain, proxy):
    # given
    proxy.down = True
    with _configure(network_config("local-a", 31337, proxy.url)):
        _register_native("local-a")
        # when
        rows = wallet_balances([Account.create().address])
    # then
    assert [(r.status, r.amount) for r in rows] == [(UNAVAILABLE, None)]


def test_a_token_address_without_code_is_unavailable_for_that_row_only(chain):
    # given: a "token" registered at an address that holds no contract
    address = Account.create().address
    with _configure(network_config("local-a", 31337, chain.node.rpc_url)):
        network = selectors.network_get("local-a")
        _register_native("local-a")
        services.asset_upsert(
            network=network, symbol="GONE", decimals=6, address=Account.create().address
        )
        # when
        rows = wallet_balances([address])
    # then
    assert [(r.symbol, r.status) for r in rows] == [("ETH", OK), ("GONE", UNAVAILABLE)]


def test_second_read_of_the_same_addresses_is_served_from_the_cache(chain, proxy, settings):
    # given
    settings.WALLET_BALANCE_CACHE_SECONDS = 30
    a, b = Account.create().address, Account.create().address
    with _configure(network_config("local-a", 31337, proxy.url)):
        _register_native("local-a")
        _set_eth(chain, a, 10**18)
        first = wallet_balances([a, b])
        after_first = proxy.requests
        # when: the same set, in another order and letter case; the chain has changed since
        _set_eth(chain, a, 2 * 10**18)
        second = wallet_balances([b.lower(), a])
        after_second = proxy.requests
        # and a different set
        wallet_balances([a])
    # then
    assert after_first == 1  # one JSON-RPC batch for the whole network
    assert after_second == after_first
    assert second == [first[1], first[0]]
    assert first[0].amount == Decimal("1.000000000000000000")
    assert proxy.requests == after_second + 1


def test_the_cache_expires_after_the_configured_seconds(chain, proxy, settings):
    # given
    settings.WALLET_BALANCE_CACHE_SECONDS = 1
    address = Account.create().address
    with _configure(network_config("local-a", 31337, proxy.url)):
        _register_native("local-a")
        wallet_balances([address])
        # when
        time.sleep(1.2)
        wallet_balances([address])
    # then
    assert proxy.requests == 2


def test_cache_seconds_zero_reads_the_chain_every_time(chain, proxy, settings):
    # given
    settings.WALLET_BALANCE_CACHE_SECONDS = 0
    address = Account.create().address
    with _configure(network_config("local-a", 31337, proxy.url)):
        _register_native("local-a")
        # when
        wallet_balances([address])
        wallet_balances([address])
    # then
    assert proxy.requests == 2


def test_a_new_asset_is_read_at_once_despite_the_cache(chain, proxy, settings):
    # given
    settings.WALLET_BALANCE_CACHE_SECONDS = 30
    address = Account.create().address
    with _configure(network_config("local-a", 31337, proxy.url)):
        _register_native("local-a")
        before = wallet_balances([address])
        # when
        _register_token("local-a")
        after = wallet_balances([address])
    # then
    assert [r.symbol for r in before] == ["ETH"]
    assert [r.symbol for r in after] == ["ETH", "TEST"]


def test_many_addresses_are_sent_in_several_batches_and_all_answered(chain, proxy):
    # given: 150 addresses, one asset: 151 calls with the chain id, two batches of <= 100
    addresses = [Account.create().address for _ in range(150)]
    with _configure(network_config("local-a", 31337, proxy.url)):
        _register_native("local-a")
        _set_eth(chain, addresses[-1], 5)
        # when
        rows = wallet_balances(addresses)
    # then
    assert proxy.requests == 2
    assert [r.address for r in rows] == addresses
    assert all(r.status == OK for r in rows)
    assert rows[-1].amount == Decimal("0.000000000000000005")
    assert {r.amount for r in rows[:-1]} == {Decimal(0)}


def test_disabled_assets_and_networks_are_not_read(chain):
    # given
    with _configure(
        network_config("local-a", 31337, chain.node.rpc_url),
        {**network_config("local-b", 31338, chain.node.rpc_url), "enabled": False},
    ):
        _register_native("local-a")
        Asset.objects.create(network="local-b", symbol="ETH", decimals=18)
        Asset.objects.create(
            network="local-a", symbol="OFF", decimals=6, address=user(7).address, enabled=False
        )
        # when
        rows = wallet_balances([Account.create().address])
    # then
    assert [(r.network, r.symbol) for r in rows] == [("local-a", "ETH")]


def test_no_addresses_or_no_assets_send_nothing(chain, proxy):
    # given
    with _configure(network_config("local-a", 31337, proxy.url)):
        # when
        without_assets = wallet_balances([Account.create().address])
        _register_native("local-a")
        without_addresses = wallet_balances([])
    # then
    assert without_assets == [] and without_addresses == []
    assert proxy.requests == 0


def test_something_that_is_not_an_address_is_refused():
    # when / then
    with pytest.raises(ValueError, match="not an EVM address"):
        wallet_balances(["0x1234"])


@pytest.mark.parametrize(
    ("raw", "decimals", "text"),
    [
        (0, 18, "0.000000000000000000"),
        (1, 18, "0.000000000000000001"),
        (1_500_000, 6, "1.500000"),
        (
            2**256 - 1,
            18,
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935",
        ),
        (42, 0, "42"),
    ],
)
def test_scaled_is_exact_for_every_uint256(raw, decimals, text):
    # when
    amount = scaled(raw, decimals)
    # then
    assert format(amount, "f") == text
    assert amount == Decimal(text)
