"""Helpers that drive an order the way its users' wallets and the platform's workers do.

``feed`` hands the Escrow events of a real transaction receipt (from a real anvil) to
``escrow.chain.on_chain_event`` exactly as the watcher hands its events on: decoded with the
contract's ABI into ``HtlcEvent`` with JSON-safe arguments (checksummed addresses, integers
as decimal strings, bytes as 0x hex). ``watcher_reads_escrow`` instead makes the real watcher
read the Escrow's logs (the hook-up docs/escrow.md asks for), for the tests that prove it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

from eth_account.messages import encode_defunct
from rest_framework.test import APIClient
from web3 import Web3
from web3.exceptions import MismatchedABI

from chains import compiler, events, watcher
from chains.escrow import ESCROW, EVENTS
from chains.interface import HTLC, HtlcEvent
from chains.models import Asset, ChainEvent, Deployment
from escrow import chain as escrow_chain


def sign_in(key) -> APIClient:
    """A client signed in by SIWE with `key` (real EIP-4361 message, real signature)."""
    client = APIClient()
    nonce = client.post(
        "/api/v1/auth/siwe/nonce", {"address": key.address, "chain_id": 31337}, format="json"
    ).json()
    signature = "0x" + key.sign_message(encode_defunct(text=nonce["message"])).signature.hex()
    answer = client.post(
        "/api/v1/auth/siwe/verify",
        {"message": nonce["message"], "signature": signature},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['access']}")
    return client


def send(chain, key, action: dict) -> dict:
    """Send a prepared next_action exactly as a wallet would."""
    assert action["chain_id"] == chain.w3.eth.chain_id
    if "from" in action:
        assert action["from"].lower() == key.address.lower()
    return chain.send(key, action["to"], action["data"], int(action["value"]))


def test_token(chain, network: str):
    asset = Asset.objects.get(network=network, symbol="TEST")
    return chain.w3.eth.contract(
        address=Web3.to_checksum_address(asset.address),
        abi=compiler.compile_contract("TestToken").abi,
    )


test_token.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def _jsonable(value):
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


def decoded(chain, network: str, receipt) -> list[HtlcEvent]:
    """The Escrow events of `receipt` as the watcher would hand them on."""
    contract = chain.w3.eth.contract(abi=compiler.compile_contract(ESCROW).abi)
    block = chain.w3.eth.get_block(receipt["blockNumber"])
    found = []
    for log in receipt["logs"]:
        for name in EVENTS:
            try:
                event = getattr(contract.events, name)().process_log(log)
            except MismatchedABI:
                continue
            args = {k: _jsonable(v) for k, v in event["args"].items()}
            found.append(
                HtlcEvent(
                    network=network,
                    name=name,
                    lock_id=args.get("id", "0x" + "00" * 32),
                    tx_hash=Web3.to_hex(receipt["transactionHash"]),
                    log_index=int(log["logIndex"]),
                    block_number=int(receipt["blockNumber"]),
                    block_hash=Web3.to_hex(block["hash"]),
                    block_timestamp=int(block["timestamp"]),
                    contract=Web3.to_checksum_address(log["address"]),
                    args=args,
                )
            )
    return found


def feed(chain, network: str, receipt, *, orphaned: bool = False) -> list[HtlcEvent]:
    """Hand the receipt's Escrow events to the escrow app's subscriber, in log order."""
    found = decoded(chain, network, receipt)
    for event in reversed(found) if orphaned else found:
        if orphaned:
            event = HtlcEvent(**{**event.__dict__, "orphaned": True})
        escrow_chain.on_chain_event(event)
    return found


def wait(chain, tx_hash: str) -> dict:
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, receipt
    return receipt


@contextlib.contextmanager
def watcher_reads_escrow() -> Iterator[None]:
    """The watcher hook-up docs/escrow.md asks for, applied for the duration: the watcher
    reads the Escrow deployments' logs beside the HTLC's, decodes them with the Escrow's ABI,
    and ``escrow.chain`` hears them (order DOMAIN). Test-only patching of private watcher
    functions; production needs the small change the doc describes."""
    original_addresses, original_shapes = watcher._htlc_addresses, watcher._event_shapes

    def addresses(network: str) -> list[str]:
        rows = Deployment.objects.filter(network=network, contract__in=[HTLC, ESCROW])
        return sorted({Web3.to_checksum_address(a) for a in rows.values_list("address", flat=True)})

    @functools.cache
    def shapes() -> dict:
        found = {}
        for name, wanted in ((HTLC, set(ChainEvent.Name.values)), (ESCROW, set(EVENTS))):
            for item in compiler.compile_contract(name).abi:
                if item.get("type") != "event" or item["name"] not in wanted:
                    continue
                inputs = item["inputs"]
                if name == ESCROW and "id" not in {i["name"] for i in inputs}:
                    continue  # credits and withdrawals concern no order
                signature = f"{item['name']}({','.join(i['type'] for i in inputs)})"
                found[Web3.keccak(text=signature).to_0x_hex()] = watcher._EventShape(
                    name=item["name"],
                    topics=tuple((i["name"], i["type"]) for i in inputs if i["indexed"]),
                    data_names=tuple(i["name"] for i in inputs if not i["indexed"]),
                    data_types=tuple(i["type"] for i in inputs if not i["indexed"]),
                )
        return found

    watcher._htlc_addresses = addresses
    watcher._event_shapes = shapes
    events.subscribe("escrow.chain", _escrow_only, order=events.Order.DOMAIN)
    try:
        yield
    finally:
        watcher._htlc_addresses = original_addresses
        watcher._event_shapes = original_shapes
        events._registered.pop("escrow.chain", None)


def _escrow_only(event: HtlcEvent) -> None:
    escrow_chain.on_chain_event(event)
