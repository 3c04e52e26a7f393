"""A test wallet injected into the page: an EIP-1193 provider whose `request()` is answered
in Python, as a browser extension's background page would answer it.

Accounts come from an eth-account key; `personal_sign` and `eth_signTypedData_v4` are signed
with it; `eth_sendTransaction` is filled in (nonce, gas, fees) from the chain, signed here and
sent raw to a real anvil; every other call goes to the anvil of the wallet's current chain.
The wallet knows some networks, learns others through `wallet_addEthereumChain` (checking, as
MetaMask does, that the RPC URL answers with that chain id), and emits `chainChanged` and
`accountsChanged`. It announces itself through EIP-6963 and/or sets `window.ethereum`.

`reject` holds the methods the "user" declines (EIP-1193 error 4001).
"""

from __future__ import annotations

import itertools
import json
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

USER_REJECTED = 4001
UNAUTHORIZED = 4100
UNRECOGNIZED_CHAIN = 4902
INTERNAL = -32603

ICON = (
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9"
    "IjAgMCAxNiAxNiI+PGNpcmNsZSBjeD0iOCIgY3k9IjgiIHI9IjgiIGZpbGw9IiMwYTU4Y2EiLz48L3N2Zz4="
)

_ids = itertools.count(1)


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def rpc(url: str, method: str, params: list | None = None) -> Any:
    """One JSON-RPC call to a node; node errors keep their code and message."""
    body = json.dumps(
        {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or []}
    )
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = json.load(response)
    if "error" in payload:
        error = payload["error"]
        raise RpcError(error.get("code", INTERNAL), error.get("message", ""), error.get("data"))
    return payload["result"]


def _hex_bytes(value: str) -> bytes:
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


@dataclass
class TestWallet:
    account: LocalAccount
    chain_id: int
    networks: dict[int, str]  # chain id -> RPC URL, the networks the wallet knows
    name: str = "Test Wallet"
    rdns: str = "org.example.testwallet"
    announce: bool = True  # EIP-6963
    legacy: bool = True  # window.ethereum
    switch_on_add: bool = True  # MetaMask offers to switch right after adding
    reject: set[str] = field(default_factory=set)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    connected: bool = False
    calls: list[tuple[str, list]] = field(default_factory=list)
    added: list[dict] = field(default_factory=list)
    sent: list[tuple[int, str]] = field(default_factory=list)  # (chain id, tx hash)
    failures: list[BaseException] = field(default_factory=list)

    __test__ = False  # not a pytest test class

    @classmethod
    def fresh(cls, chain_id: int, networks: dict[int, str], **kwargs: Any) -> TestWallet:
        """A wallet with a new random key (no funds)."""
        return cls(account=Account.create(), chain_id=chain_id, networks=networks, **kwargs)

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    # -------------------------------------------------------------- injection

    def install(self, context: BrowserContext) -> None:
        """Expose this wallet to every page of `context` (before any page script runs)."""
        binding = f"__testWallet_{self.uuid.replace('-', '')}"
        context.expose_function(binding, self.handle)
        config = {
            "binding": binding,
            "announce": self.announce,
            "legacy": self.legacy,
            "info": {"uuid": self.uuid, "name": self.name, "icon": ICON, "rdns": self.rdns},
        }
        context.add_init_script(INIT_SCRIPT.replace("__CONFIG__", json.dumps(config)))

    def handle(self, payload: dict) -> dict:
        method, params = payload["method"], payload.get("params") or []
        self.calls.append((method, params))
        events: list[list] = []
        try:
            if method in self.reject:
                raise RpcError(USER_REJECTED, "User rejected the request.")
            result = self._answer(method, params, events)
        except RpcError as exc:
            error = {"code": exc.code, "message": exc.message}
            if exc.data is not None:
                error["data"] = exc.data
            return {"error": error, "events": events}
        except Exception as exc:  # a bug in this wallet: fail the test, not only the page
            self.failures.append(exc)
            return {"error": {"code": INTERNAL, "message": repr(exc)}, "events": events}
        return {"result": result, "events": events}

    # -------------------------------------------------------------- methods

    def _answer(self, method: str, params: list, events: list) -> Any:
        if method == "eth_requestAccounts":
            if not self.connected:
                self.connected = True
                events.append(["accountsChanged", [self.address]])
            return [self.address]
        if method == "eth_accounts":
            return [self.address] if self.connected else []
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "net_version":
            return str(self.chain_id)
        if method == "wallet_switchEthereumChain":
            return self._switch(int(params[0]["chainId"], 16), events)
        if method == "wallet_addEthereumChain":
            return self._add(params[0], events)
        if method == "personal_sign":
            data, address = params[0], params[1]
            self._own(address)
            message = encode_defunct(primitive=_hex_bytes(data))
            return "0x" + self.account.sign_message(message).signature.hex()
        if method == "eth_signTypedData_v4":
            address, typed = params[0], params[1]
            self._own(address)
            typed = json.loads(typed) if isinstance(typed, str) else typed
            signable = encode_typed_data(full_message=typed)
            return "0x" + self.account.sign_message(signable).signature.hex()
        if method == "eth_sendTransaction":
            return self._send(params[0])
        return rpc(self._rpc_url(), method, params)

    def _own(self, address: str) -> None:
        if not self.connected or address.lower() != self.address.lower():
            raise RpcError(UNAUTHORIZED, "The requested account has not been authorized.")

    def _rpc_url(self) -> str:
        return self.networks[self.chain_id]

    def _switch(self, chain_id: int, events: list) -> None:
        if chain_id not in self.networks:
            raise RpcError(UNRECOGNIZED_CHAIN, f"Unrecognized chain ID {hex(chain_id)}.")
        if chain_id != self.chain_id:
            self.chain_id = chain_id
            events.append(["chainChanged", hex(chain_id)])
        return None

    def _add(self, params: dict, events: list) -> None:
        chain_id = int(params["chainId"], 16)
        rpc_url = (params.get("rpcUrls") or [""])[0]
        currency = params.get("nativeCurrency") or {}
        if not rpc_url or not params.get("chainName") or currency.get("decimals") != 18:
            raise RpcError(-32602, f"Invalid chain parameters: {params!r}")
        if int(rpc(rpc_url, "eth_chainId"), 16) != chain_id:
            raise RpcError(-32602, "The RPC endpoint returned a different chain ID.")
        self.added.append(params)
        self.networks[chain_id] = rpc_url
        if self.switch_on_add:
            self._switch(chain_id, events)
        return None

    def _send(self, tx: dict) -> str:
        self._own(tx.get("from", ""))
        url = self._rpc_url()
        call = {"from": self.address, "to": tx["to"], "data": tx.get("data", "0x")}
        call["value"] = tx.get("value", "0x0")
        latest = rpc(url, "eth_getBlockByNumber", ["latest", False])
        base_fee = int(latest["baseFeePerGas"], 16)
        signed = self.account.sign_transaction(
            {
                "chainId": self.chain_id,
                "nonce": int(rpc(url, "eth_getTransactionCount", [self.address, "pending"]), 16),
                "to": tx["to"],
                "data": call["data"],
                "value": int(call["value"], 16),
                "gas": int(rpc(url, "eth_estimateGas", [call]), 16),
                "maxFeePerGas": 2 * base_fee + 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
        )
        tx_hash = rpc(url, "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
        self.sent.append((self.chain_id, tx_hash))
        return tx_hash


# Runs in the page before its own scripts. Python answers through the exposed binding.
INIT_SCRIPT = """
(() => {
  const config = __CONFIG__;
  const listeners = new Map();
  const emit = (event, data) => {
    for (const listener of [...(listeners.get(event) ?? [])]) {
      try { listener(data); } catch (error) { console.error(error); }
    }
  };
  const provider = {
    isTestWallet: true,
    async request({ method, params } = {}) {
      const answer = await window[config.binding]({ method, params: params ?? [] });
      for (const [event, data] of answer.events ?? []) emit(event, data);
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        if (answer.error.data !== undefined) error.data = answer.error.data;
        throw error;
      }
      return answer.result;
    },
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(listener);
      return provider;
    },
    removeListener(event, listener) {
      const list = listeners.get(event) ?? [];
      if (list.includes(listener)) list.splice(list.indexOf(listener), 1);
      return provider;
    },
  };
  if (config.legacy) window.ethereum = provider;
  if (config.announce) {
    const detail = Object.freeze({ info: Object.freeze(config.info), provider });
    const announce = () =>
      window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
    window.addEventListener("eip6963:requestProvider", announce);
    announce();
  }
})();
"""
