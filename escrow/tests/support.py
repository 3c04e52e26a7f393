"""Helpers that drive an order the way its users' wallets and the platform's workers do.

``feed`` hands the Escrow events of a real transaction receipt (from a real anvil) to
``escrow.chain.on_chain_event`` exactly as the watcher hands its events on: decoded with the
contract's ABI into ``HtlcEvent`` with JSON-safe arguments (checksummed addresses, integers
as decimal strings, bytes as 0x hex). ``watcher_reads_escrow`` instead makes the real watcher
read the Escrow's logs (the hook-up docs/escrow.md asks for), for the tests that prove it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from web3 import Web3
from web3.exceptions import MismatchedABI

from chains import compiler
from chains.escrow import ESCROW, EVENTS
from chains.interface import HtlcEvent
from chains.models import Asset
from escrow import chain as escrow_chain
from swaps.tests.flow import send, sign_in  # noqa: F401 (re-exported for the escrow tests)


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
    """The watcher reads the Escrow's logs and ``escrow.chain`` hears them: wired in the
    code now (``chains.watcher.WATCHED``, ``EscrowConfig.ready``), so nothing to patch."""
    yield


def _escrow_only(event: HtlcEvent) -> None:
    escrow_chain.on_chain_event(event)
