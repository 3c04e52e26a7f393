"""deploy_contracts and the Escrow: deployed once with the network's arbiter and treasury,
redeployed when either changes, skipped where a network has neither."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings
from eth_account import Account

from chains import escrow
from chains.keys import anvil_dev_account
from chains.models import Deployment
from chains.tests.support import network_config, start_chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_a():
    chain = start_chain(31337)
    with override_settings(
        CHAIN_NETWORKS=[network_config("local-a", 31337, chain.node.rpc_url)],
        ESCROW_TREASURY_ADDRESS="",
    ):
        yield chain
    chain.node.stop()


def test_deploy_contracts_deploys_the_escrow_with_arbiter_and_treasury(local_a):
    # when
    call_command("deploy_contracts", "--network", "local-a")
    # then
    deployment = Deployment.objects.get(contract="Escrow", network="local-a", active=True)
    contract = local_a.w3.eth.contract(address=deployment.address, abi=escrow.escrow_abi())
    assert contract.functions.arbiter().call() == anvil_dev_account(8).address
    assert contract.functions.treasury().call() == anvil_dev_account(7).address


def test_deploy_contracts_again_leaves_the_escrow_alone(local_a):
    call_command("deploy_contracts", "--network", "local-a")
    block = local_a.w3.eth.block_number
    call_command("deploy_contracts", "--network", "local-a")
    assert local_a.w3.eth.block_number == block
    assert Deployment.objects.filter(contract="Escrow").count() == 1


def test_a_new_treasury_deploys_a_new_escrow(local_a, settings):
    # given
    call_command("deploy_contracts", "--network", "local-a")
    first = Deployment.objects.get(contract="Escrow", active=True)
    # when the treasury changes
    settings.ESCROW_TREASURY_ADDRESS = anvil_dev_account(6).address
    call_command("deploy_contracts", "--network", "local-a")
    # then a new escrow with it; the old record stays, inactive, for its orders
    current = Deployment.objects.get(contract="Escrow", active=True)
    assert current.pk != first.pk
    contract = local_a.w3.eth.contract(address=current.address, abi=escrow.escrow_abi())
    assert contract.functions.treasury().call() == anvil_dev_account(6).address
    assert escrow.is_escrow_contract(network_name="local-a", address=first.address)


def test_arbiter_key_from_the_environment_wins(local_a, monkeypatch):
    key = "0x" + "59" * 32
    monkeypatch.setenv("ARBITER_PRIVATE_KEY_LOCAL_A", key)
    call_command("deploy_contracts", "--network", "local-a")
    deployment = Deployment.objects.get(contract="Escrow", active=True)
    contract = local_a.w3.eth.contract(address=deployment.address, abi=escrow.escrow_abi())
    assert contract.functions.arbiter().call() == escrow.arbiter_address("local-a")
    assert contract.functions.arbiter().call() != anvil_dev_account(8).address


def test_a_public_network_without_treasury_or_arbiter_gets_no_escrow(monkeypatch):
    # given a public network with a deployer key but no arbiter key and no treasury
    monkeypatch.setenv("DEPLOYER_PRIVATE_KEY_TESTNET", "0x" + "ac" * 32)
    monkeypatch.delenv("ARBITER_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("ARBITER_PRIVATE_KEY_TESTNET", raising=False)
    chain = start_chain(5)
    try:
        funder = anvil_dev_account(0)
        deployer = Account.from_key("0x" + "ac" * 32).address
        chain.send(funder, deployer, value=10**18)
        with override_settings(
            CHAIN_NETWORKS=[network_config("testnet", 5, chain.node.rpc_url)],
            ESCROW_TREASURY_ADDRESS="",
        ):
            # when
            call_command("deploy_contracts", "--network", "testnet")
    finally:
        chain.node.stop()
    # then the HTLC is there, the escrow is not
    assert Deployment.objects.filter(contract="HTLC", network="testnet").exists()
    assert not Deployment.objects.filter(contract="Escrow").exists()
