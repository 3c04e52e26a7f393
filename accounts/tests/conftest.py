"""Accounts test fixtures: a real anvil as the configured network, and SIWE helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from rest_framework.test import APIClient

from chains.anvil import AnvilProcess, free_port, start_anvil
from testing.support import clear_run_cache

CHAIN_ID = 31337


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilProcess]:
    """One real anvil for the session: the RPC behind contract-wallet (EIP-1271) checks."""
    node = start_anvil(port=free_port(), chain_id=CHAIN_ID)
    with node:
        yield node


def network(name: str, chain_id: int, rpc_url: str) -> dict:
    return {
        "name": name,
        "chain_id": chain_id,
        "rpc_url": rpc_url,
        "public_rpc_url": rpc_url,
        "confirmations": 1,
        "block_time": 1,
        "explorer_url": "",
        "native_symbol": "ETH",
        "enabled": True,
    }


@pytest.fixture(autouse=True)
def _accounts_env(settings, anvil):
    """Only the session anvil is configured, SITE_URL is fixed, throttles start empty."""
    settings.CHAIN_NETWORKS = [network("local-a", CHAIN_ID, anvil.rpc_url)]
    settings.SITE_URL = "https://swap.example"
    clear_run_cache()
    yield
    clear_run_cache()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def wallet_key() -> LocalAccount:
    return Account.create()


def sign(key: LocalAccount, message: str) -> str:
    """personal_sign (EIP-191) of ``message``, as a 0x hex string."""
    return "0x" + key.sign_message(encode_defunct(text=message)).signature.hex()


@dataclass
class Siwe:
    api: APIClient

    def nonce(self, key_or_address, chain_id: int = CHAIN_ID) -> dict:
        address = getattr(key_or_address, "address", key_or_address)
        response = self.api.post(
            "/api/v1/auth/siwe/nonce", {"address": address, "chain_id": chain_id}, format="json"
        )
        assert response.status_code == 201, response.content
        return response.json()

    def verify(self, message: str, signature: str, path: str = "verify", **extra):
        return self.api.post(
            f"/api/v1/auth/siwe/{path}",
            {"message": message, "signature": signature, **extra},
            format="json",
        )

    def sign_in(self, key: LocalAccount, accept_terms: bool = True):
        """Sign in by SIWE; a new account accepts the terms unless told not to."""
        message = self.nonce(key)["message"]
        return self.verify(message, sign(key, message), accept_terms=accept_terms)


@pytest.fixture
def siwe(api) -> Siwe:
    return Siwe(api)
