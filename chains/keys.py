"""Hot-wallet keys. They come only from the environment, never from settings files or logs.

`<ROLE>_PRIVATE_KEY_<NETWORK>` (e.g. `RELAYER_PRIVATE_KEY_SEPOLIA`) wins over
`<ROLE>_PRIVATE_KEY`. On the local anvil networks, anvil's public, well-known
development keys are the fallback, so `make run` works out of the box; they are
worthless anywhere else and never used for any other network.
"""

from __future__ import annotations

import os

from eth_account import Account
from eth_account.signers.local import LocalAccount

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# anvil's default accounts by role: account 0 deploys, account 9 relays.
_ANVIL_DEV_ACCOUNT = {"DEPLOYER": 0, "RELAYER": 9}


def anvil_dev_account(index: int) -> LocalAccount:
    """anvil's public development account `index` (derived from its well-known mnemonic)."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


class MissingKey(LookupError):
    """No key is configured for this role on this network."""


def _env_name(role: str, network: str) -> str:
    return f"{role}_PRIVATE_KEY_{network.upper().replace('-', '_')}"


def account_for(*, role: str, network: str) -> LocalAccount:
    """The signing account for `role` ("DEPLOYER" or "RELAYER") on `network`.

    Raises ``MissingKey`` when no key is configured (and the network is not local).
    """
    key = os.environ.get(_env_name(role, network)) or os.environ.get(f"{role}_PRIVATE_KEY")
    if not key and network.startswith("local-"):
        return anvil_dev_account(_ANVIL_DEV_ACCOUNT[role])
    if not key:
        raise MissingKey(f"set {_env_name(role, network)} or {role}_PRIVATE_KEY")
    return Account.from_key(key)
