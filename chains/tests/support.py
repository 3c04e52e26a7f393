"""Test support for the watcher and relayer: real anvil chains, and a switchable RPC proxy.

The proxy forwards JSON-RPC to a real anvil and can be told to fail, to test RPC outages
against real chain data. It is a fault injector in front of a real node, not a fake chain.
"""

from __future__ import annotations

import hashlib
import os
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3

from chains import compiler
from chains.anvil import AnvilProcess, free_port, start_anvil
from chains.keys import anvil_dev_account

ZERO = "0x" + "00" * 20


def network_config(name: str, chain_id: int, rpc_url: str, confirmations: int = 2) -> dict:
    return {
        "name": name,
        "chain_id": chain_id,
        "rpc_url": rpc_url,
        "public_rpc_url": rpc_url,
        "confirmations": confirmations,
        "block_time": 1,
        "explorer_url": "",
        "native_symbol": "ETH",
        "enabled": True,
    }


class RpcProxy:
    """HTTP JSON-RPC proxy on loopback. `down = True` answers 503; `refuse = True` closes
    each connection unanswered (a provider that is gone); `fail_after = n` fails every
    request after the next n; `before(n, body)` runs before the n-th request (from 1) is
    forwarded (a fault landed between two reads, such as a reorg)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.down = False
        self.refuse = False
        self.fail_after: int | None = None
        self.before: Callable[[int, bytes], None] | None = None
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy.requests += 1
                if proxy.before is not None:
                    proxy.before(proxy.requests, body)
                failing = proxy.down or (proxy.fail_after is not None and proxy.fail_after <= 0)
                if proxy.fail_after is not None:
                    proxy.fail_after -= 1
                if failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                req = urllib.request.Request(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(req, timeout=10) as upstream:
                    payload = upstream.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            def verify_request(self, request, client_address):
                return not proxy.refuse

        self.server = Server(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Chain:
    """One anvil chain with a direct Web3 client for the test's own transactions."""

    node: AnvilProcess
    w3: Web3

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.w3.provider.make_request("evm_mine", [])

    def travel(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.mine()

    def snapshot(self) -> str:
        return self.w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(self, snapshot_id: str) -> None:
        assert self.w3.provider.make_request("evm_revert", [snapshot_id])["result"] is True

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def send(self, account: LocalAccount, to: str, data: str = "0x", value: int = 0) -> dict:
        tx = {
            "from": account.address,
            "to": to,
            "data": data,
            "value": value,
            "nonce": self.w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": self.w3.eth.chain_id,
            "maxFeePerGas": 2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + 10**9,
            "maxPriorityFeePerGas": 10**9,
        }
        tx["gas"] = self.w3.eth.estimate_gas(tx)
        signed = account.sign_transaction(tx)
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        assert receipt["status"] == 1, receipt
        return receipt

    def htlc(self, address: str):
        return self.w3.eth.contract(address=address, abi=compiler.compile_contract("HTLC").abi)

    def lock_native(
        self,
        account: LocalAccount,
        htlc_address: str,
        *,
        recipient: str,
        hashlock: bytes,
        timelock: int,
        amount: int,
    ) -> tuple[str, dict]:
        htlc = self.htlc(htlc_address)
        data = htlc.encode_abi("lock", args=[recipient, hashlock, timelock])
        receipt = self.send(account, htlc_address, data, value=amount)
        (event,) = htlc.events.Locked().process_receipt(receipt)
        return Web3.to_hex(event["args"]["id"]), receipt


def start_chain(chain_id: int) -> Chain:
    node = start_anvil(port=free_port(), chain_id=chain_id)
    return Chain(node=node, w3=Web3(HTTPProvider(node.rpc_url, request_kwargs={"timeout": 10})))


def secret_pair(seed: bytes | None = None) -> tuple[bytes, bytes]:
    """(preimage, hashlock) with hashlock = sha256(preimage), per the contract's rule."""
    preimage = seed or os.urandom(32)
    return preimage, hashlib.sha256(preimage).digest()


def user(index: int) -> LocalAccount:
    return anvil_dev_account(index)


def gas_cost(receipt: dict) -> int:
    return receipt["gasUsed"] * receipt["effectiveGasPrice"]


@contextmanager
def two_local_chains(**settings_overrides) -> Iterator[tuple[Chain, Chain]]:
    """Two fresh anvils as local-a and local-b (2 confirmations) with an HTLC deployed on
    each, under `settings_overrides`; both stopped afterwards."""
    from django.test import override_settings

    from chains import selectors, services

    a, b = start_chain(31337), start_chain(31338)
    config = [
        network_config("local-a", 31337, a.node.rpc_url, confirmations=2),
        network_config("local-b", 31338, b.node.rpc_url, confirmations=2),
    ]
    try:
        with override_settings(CHAIN_NETWORKS=config, **settings_overrides):
            for name in ("local-a", "local-b"):
                services.contract_deploy(network=selectors.network_get(name), contract="HTLC")
            yield a, b
    finally:
        a.node.stop()
        b.node.stop()


def htlc_address(network: str) -> str:
    """The active HTLC's address on `network`."""
    from chains import selectors

    return selectors.htlc_deployment_get(network).address


def scan_until_idle(network: str, limit: int = 20) -> None:
    """Run the watcher over `network` until it has nothing more to store."""
    from chains import selectors, watcher

    found = selectors.network_get(network)
    for _ in range(limit):
        if watcher.network_scan(network=found).status != "scanned":
            return
    raise AssertionError("watcher never went idle")


def swap_locks(
    a: Chain, b: Chain, *, hashlock: bytes, taker_amount: int, maker_amount: int
) -> tuple[str, str]:
    """A swap's two locks under one hashlock (two_local_chains): the taker (anvil account 1)
    on local-a for the maker (2), timelock 2 h; the maker on local-b for the taker, 1 h.
    Returns (taker's lock id, maker's lock id)."""
    taker, maker = user(1), user(2)
    taker_lock, _ = a.lock_native(
        taker,
        htlc_address("local-a"),
        recipient=maker.address,
        hashlock=hashlock,
        timelock=a.now() + 7200,
        amount=taker_amount,
    )
    maker_lock, _ = b.lock_native(
        maker,
        htlc_address("local-b"),
        recipient=taker.address,
        hashlock=hashlock,
        timelock=b.now() + 3600,
        amount=maker_amount,
    )
    return taker_lock, maker_lock
