"""Writes of the chains app: deployments and the asset registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from web3 import Web3

from chains import compiler, escrow, evm, watcher
from chains.interface import HTLC
from chains.keys import MissingKey, account_for, anvil_dev_account
from chains.models import Asset, Deployment
from chains.networks import Network

logger = logging.getLogger(__name__)

TEST_TOKEN = "TestToken"


@dataclass(frozen=True)
class TokenSpec:
    name: str
    symbol: str
    decimals: int


# The local test token: 6 decimals on purpose, so amounts are never assumed to have 18.
TEST_TOKEN_SPEC = TokenSpec(name="Test Token", symbol="TEST", decimals=6)
TEST_TOKEN_MINT = 1_000_000 * 10**6
# anvil's development accounts 1-4 (public keys) hold test tokens, for demos.
DEMO_HOLDER_INDEXES = (1, 2, 3, 4)


@dataclass(frozen=True)
class DeployOutcome:
    deployment: Deployment
    created: bool


def _live(w3: Web3, deployment: Deployment) -> bool:
    """Is the recorded code still at the recorded address (a local chain may have been reset)?"""
    return evm.code_hash(w3, deployment.address) == deployment.code_hash


def contract_deploy(
    *, network: Network, contract: str, args: tuple = (), label: str = ""
) -> DeployOutcome:
    """Deploy `contract` to `network` unless the same compiled code is already live there.

    Idempotent: with an active deployment of the same source whose runtime code is
    still on chain, nothing is sent. Otherwise the old record is deactivated and a
    new deployment is sent with the DEPLOYER key, awaited and recorded.
    Raises ``chains.keys.MissingKey`` without a deployer key for a public network.
    """
    compiled = compiler.compile_contract(contract)
    w3 = evm.web3_for(network)
    current = Deployment.objects.filter(
        network=network.name, contract=contract, label=label, active=True
    ).first()
    if current and current.source_hash == compiled.source_hash and _live(w3, current):
        return DeployOutcome(current, created=False)

    account = account_for(role="DEPLOYER", network=network.name)
    factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    data = factory.constructor(*args).data_in_transaction
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    sent = evm.send_transaction(w3, account, {"data": data}, nonce=nonce)
    mined = evm.wait_for_receipt(w3, sent.tx_hash)
    if mined.status != 1 or not mined.contract_address:
        raise RuntimeError(f"deploying {contract} on {network.name} failed in {sent.tx_hash}")
    with transaction.atomic():
        Deployment.objects.filter(
            network=network.name, contract=contract, label=label, active=True
        ).update(active=False)
        deployment = Deployment.objects.create(
            network=network.name,
            contract=contract,
            label=label,
            address=Web3.to_checksum_address(mined.contract_address),
            tx_hash=sent.tx_hash,
            block_number=mined.block_number,
            code_hash=evm.code_hash(w3, mined.contract_address),
            source_hash=compiled.source_hash,
            compiler=compiler.compiler_version(),
            deployer=account.address,
        )
    if contract == HTLC:
        # Read the new contract's events from its first block, even if the cursor passed it.
        watcher.cursor_rewind(network=network.name, before_block=deployment.block_number)
    logger.info(
        "contract deployed",
        extra={"network": network.name, "contract": contract, "address": deployment.address},
    )
    return DeployOutcome(deployment, created=True)


def asset_upsert(
    *,
    network: Network,
    symbol: str,
    decimals: int,
    address: str | None = None,
    name: str = "",
    is_test: bool = False,
) -> Asset:
    """Register an asset, or update the one with the same network and symbol."""
    asset, _ = Asset.objects.update_or_create(
        network=network.name,
        symbol=symbol,
        defaults={
            "address": Web3.to_checksum_address(address) if address else None,
            "decimals": decimals,
            "name": name,
            "is_test": is_test,
        },
    )
    return asset


def network_bootstrap(*, network: Network, test_token: bool) -> list[DeployOutcome]:
    """Deploy the HTLC, the Escrow (see ``escrow_bootstrap``) and on local chains a test
    token, register the network's assets.

    Idempotent, like ``contract_deploy``; demo holders with no test tokens get some.
    """
    outcomes = [contract_deploy(network=network, contract=HTLC)]
    asset_upsert(network=network, symbol=network.native_symbol, decimals=18, name="Native coin")
    escrow_outcome = escrow_bootstrap(network=network)
    if escrow_outcome is not None:
        outcomes.append(escrow_outcome)
    if test_token:
        spec = TEST_TOKEN_SPEC
        token = contract_deploy(
            network=network,
            contract=TEST_TOKEN,
            args=(spec.name, spec.symbol, spec.decimals),
            label=spec.symbol,
        )
        outcomes.append(token)
        asset_upsert(
            network=network,
            symbol=spec.symbol,
            decimals=spec.decimals,
            address=token.deployment.address,
            name=f"{spec.name} ({network.name})",
            is_test=True,
        )
        _mint_demo_tokens(network, token.deployment.address)
    return outcomes


# --- Escrow (goods and services; escrow/ app) ---------------------------------------------


def escrow_bootstrap(*, network: Network) -> DeployOutcome | None:
    """Deploy the Escrow with this network's arbiter and treasury, unless the active one
    already has exactly those (then nothing is sent, as ``contract_deploy``).

    Returns None, deploying nothing, when the network has no treasury address or no arbiter
    key (logged: the HTLC and swaps work without an escrow). The arbiter and treasury are
    fixed in a deployment, so a changed one deactivates it and deploys anew; orders in the
    old contract end there.
    """
    treasury = escrow.treasury_address(network.name)
    try:
        arbiter = escrow.arbiter_address(network.name)
    except MissingKey as exc:
        logger.warning("no escrow: %s", exc, extra={"network": network.name})
        return None
    if treasury is None:
        logger.warning("no escrow: ESCROW_TREASURY_ADDRESS unset", extra={"network": network.name})
        return None
    current = Deployment.objects.filter(
        network=network.name, contract=escrow.ESCROW, active=True
    ).first()
    if (
        current is not None
        and _live(evm.web3_for(network), current)
        and escrow.deployed_parties(network=network, address=current.address) != (arbiter, treasury)
    ):
        Deployment.objects.filter(pk=current.pk).update(active=False)
    outcome = contract_deploy(network=network, contract=escrow.ESCROW, args=(arbiter, treasury))
    if outcome.created:
        watcher.cursor_rewind(network=network.name, before_block=outcome.deployment.block_number)
    return outcome


def _mint_demo_tokens(network: Network, token_address: str) -> None:
    w3 = evm.web3_for(network)
    account = account_for(role="DEPLOYER", network=network.name)
    contract = w3.eth.contract(
        address=Web3.to_checksum_address(token_address),
        abi=compiler.compile_contract(TEST_TOKEN).abi,
    )
    holders = [anvil_dev_account(i).address for i in DEMO_HOLDER_INDEXES]
    empty = [h for h in holders if contract.functions.balanceOf(h).call() == 0]
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    last = None
    for offset, holder in enumerate(empty):
        data = contract.encode_abi("mint", args=[holder, TEST_TOKEN_MINT])
        last = evm.send_transaction(
            w3, account, {"to": contract.address, "data": data}, nonce=nonce + offset
        )
    if last:
        evm.wait_for_receipt(w3, last.tx_hash)
