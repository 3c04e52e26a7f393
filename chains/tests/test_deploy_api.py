import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from rest_framework.test import APIClient

from chains.keys import anvil_dev_account
from chains.models import Asset, ChainCursor, Deployment
from chains.tests.support import network_config, start_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_a():
    chain = start_chain(31337)
    with override_settings(CHAIN_NETWORKS=[network_config("local-a", 31337, chain.node.rpc_url)]):
        yield chain
    chain.node.stop()


def test_deploy_contracts_records_each_deployment_and_registers_assets(local_a):
    # when
    call_command("deploy_contracts", "--network", "local-a")
    # then
    htlc = Deployment.objects.get(contract="HTLC", network="local-a", active=True)
    assert local_a.w3.eth.get_code(htlc.address) != b""
    receipt = local_a.w3.eth.get_transaction_receipt(htlc.tx_hash)
    assert receipt["contractAddress"] == htlc.address
    assert receipt["blockNumber"] == htlc.block_number
    assert len(htlc.code_hash) == 66 and len(htlc.source_hash) == 66
    native = Asset.objects.get(network="local-a", address__isnull=True)
    token = Asset.objects.get(network="local-a", symbol="TEST")
    assert (native.symbol, native.decimals) == ("ETH", 18)
    assert token.decimals == 6 and token.is_test
    erc20 = local_a.w3.eth.contract(
        address=token.address,
        abi=[
            {
                "name": "decimals",
                "type": "function",
                "inputs": [],
                "outputs": [{"type": "uint8"}],
                "stateMutability": "view",
            }
        ],
    )
    assert erc20.functions.decimals().call() == 6
    # the watcher will read the contract's events from its first block
    assert ChainCursor.objects.get(network="local-a").last_block < htlc.block_number


def test_deploy_contracts_again_with_unchanged_code_does_nothing(local_a):
    # given
    call_command("deploy_contracts", "--network", "local-a")
    block = local_a.w3.eth.block_number
    # when
    call_command("deploy_contracts", "--network", "local-a")
    # then
    assert local_a.w3.eth.block_number == block
    assert Deployment.objects.filter(contract="HTLC").count() == 1


def test_deploy_contracts_redeploys_when_the_chain_lost_the_code(local_a):
    # given: a deployment recorded, then the chain restarted empty at the same URL
    call_command("deploy_contracts", "--network", "local-a")
    snapshot_block = Deployment.objects.get(contract="HTLC").block_number
    local_a.w3.provider.make_request("anvil_reset", [])
    assert local_a.w3.eth.block_number < snapshot_block
    # when
    call_command("deploy_contracts", "--network", "local-a")
    # then
    assert Deployment.objects.filter(contract="HTLC").count() == 2
    assert Deployment.objects.filter(contract="HTLC", active=True).count() == 1


def test_deploy_contracts_refuses_an_unknown_network(local_a):
    with pytest.raises(CommandError, match="unknown or disabled network 'nowhere'"):
        call_command("deploy_contracts", "--network", "nowhere")


def test_deploy_contracts_needs_a_key_for_a_public_network(monkeypatch):
    # given: a public network with an RPC but no deployer key in the environment
    monkeypatch.delenv("DEPLOYER_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("DEPLOYER_PRIVATE_KEY_TESTNET", raising=False)
    chain = start_chain(5)
    try:
        with override_settings(CHAIN_NETWORKS=[network_config("testnet", 5, chain.node.rpc_url)]):
            # when / then
            with pytest.raises(CommandError, match="DEPLOYER_PRIVATE_KEY_TESTNET"):
                call_command("deploy_contracts", "--network", "testnet")
    finally:
        chain.node.stop()


def test_chains_api_gives_what_clients_build_transactions_from(local_a):
    # given
    call_command("deploy_contracts", "--network", "local-a")
    htlc = Deployment.objects.get(contract="HTLC", active=True)
    # when
    body = APIClient().get("/api/v1/chains/").json()
    # then
    (network,) = body["results"]
    assert network["name"] == "local-a"
    assert network["chain_id"] == 31337
    assert network["rpc_url"] == local_a.node.rpc_url
    assert network["confirmations"] == 2
    assert network["block_time"] == 1
    assert network["explorer_url"] == ""
    assert network["htlc_address"] == htlc.address
    names = {item.get("name") for item in network["htlc_abi"]}
    assert {"lock", "lockToken", "redeem", "refund", "getLock", "Locked"} <= names


@override_settings(ESCROW_TREASURY_ADDRESS="")
def test_chains_api_gives_the_escrow_its_abi_and_the_deployed_treasury(local_a):
    # given
    call_command("deploy_contracts", "--network", "local-a")
    deployment = Deployment.objects.get(contract="Escrow", active=True)
    # when
    (network,) = APIClient().get("/api/v1/chains/").json()["results"]
    # then: the address and treasury are the ones the contract on chain holds
    assert network["escrow_address"] == deployment.address
    contract = local_a.w3.eth.contract(address=deployment.address, abi=network["escrow_abi"])
    assert network["treasury_address"] == contract.functions.treasury().call()
    assert network["treasury_address"] == anvil_dev_account(7).address
    names = {item.get("name") for item in network["escrow_abi"]}
    assert {"deposit", "release", "refund", "dispute", "resolve", "EscrowDeposited"} <= names


def test_chains_api_never_shows_the_servers_private_rpc_url():
    # given: a server RPC with an API key, and a separate public URL
    config = {
        **network_config("sepolia", 11155111, "https://rpc.example/v3/SECRET-KEY"),
        "public_rpc_url": "https://public.example",
    }
    with override_settings(CHAIN_NETWORKS=[config]):
        # when
        body = APIClient().get("/api/v1/chains/").json()
    # then
    assert body["results"][0]["rpc_url"] == "https://public.example"
    assert "SECRET-KEY" not in str(body)
    assert body["results"][0]["htlc_address"] is None
    assert body["results"][0]["escrow_address"] is None
    assert body["results"][0]["treasury_address"] is None


def test_assets_api_lists_assets_with_their_chain(local_a):
    # given
    call_command("deploy_contracts", "--network", "local-a")
    Asset.objects.create(network="disabled-net", symbol="X", decimals=8)
    # when
    body = APIClient().get("/api/v1/assets/").json()
    # then
    by_symbol = {a["symbol"]: a for a in body["results"]}
    assert set(by_symbol) == {"ETH", "TEST"}
    assert by_symbol["ETH"]["address"] is None
    assert by_symbol["ETH"]["chain_id"] == 31337
    assert by_symbol["TEST"]["network"] == "local-a"
    assert by_symbol["TEST"]["decimals"] == 6
    assert set(by_symbol["TEST"]) >= {"id", "symbol", "network", "chain_id", "address", "decimals"}
