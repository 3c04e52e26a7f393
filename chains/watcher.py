"""The chain watcher: reads HTLC events from confirmed blocks, stores each once, hands it on.

One pass over one network (``network_scan``):

1. Take the network's scan lease: a conditional UPDATE on its ``ChainCursor`` row, so
   on SQLite and PostgreSQL alike only one worker scans a network at a time. A worker
   that dies leaves a lease that simply expires.
2. Read from the RPC, outside any transaction: the head, the genesis hash (a local chain
   that was restarted starts over), the hashes of recently processed blocks (reorgs),
   then the logs of the next confirmed blocks. A block counts once it has
   ``confirmations`` blocks on top of it, itself included.
3. In one short transaction, if the lease is still ours and the cursor has not moved:
   either roll back what came from orphaned blocks, or store the new events (unique on
   network, tx hash and log index, so a repeated range changes nothing), call the
   event hooks, record block hashes and advance the cursor.

An RPC failure stores nothing and moves no cursor, so nothing is skipped when the RPC
comes back; failures count towards a per-network circuit breaker.

Handing on: each ``HtlcEvent`` is applied to the lock table (``chains.locks``) first, then
given to every subscriber in ``chains.subscribers()`` order, once when it is
confirmed (``orphaned=False``) and once more if a reorg orphans it (``orphaned=True``).
All of it runs inside the watcher's transaction: if anything raises, nothing of that pass
is stored and the same events come again next pass.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from eth_typing import ChecksumAddress
from web3 import Web3
from web3._utils.events import get_event_data

from chains import compiler, evm
from chains.events import subscribers
from chains.interface import HTLC, ChainUnavailable, HtlcEvent
from chains.models import ChainCursor, ChainEvent, Deployment, ScannedBlock
from chains.networks import Network

logger = logging.getLogger(__name__)

GENESIS_MARKER = -1  # ScannedBlock.number under which the genesis hash is kept


@dataclass
class ScanResult:
    network: str
    status: str  # scanned | idle | busy | circuit_open | rolled_back | reset
    from_block: int | None = None
    to_block: int | None = None
    head: int | None = None
    stored: int = 0
    duplicates: int = 0
    orphaned: int = 0
    events: list[HtlcEvent] = field(default_factory=list)


class ScanAborted(Exception):
    """The chain changed under the scan (or the lease was lost); nothing was stored."""


# --- lease and circuit breaker -----------------------------------------------------------


def _cursor(network: str) -> ChainCursor:
    cursor, _ = ChainCursor.objects.get_or_create(network=network)
    return cursor


def _lease_take(network: str, owner: str) -> bool:
    now = timezone.now()
    _cursor(network)
    taken = (
        ChainCursor.objects.filter(network=network)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner))
        .update(
            lease_owner=owner,
            lease_until=now + timedelta(seconds=settings.CHAIN_SCAN_LEASE_SECONDS),
        )
    )
    return taken == 1


def _lease_release(network: str, owner: str) -> None:
    ChainCursor.objects.filter(network=network, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


def _record_failure(network: str, exc: Exception) -> None:
    ChainCursor.objects.filter(network=network).update(
        consecutive_failures=F("consecutive_failures") + 1,
        last_error=f"{exc.__class__.__name__}: {exc}"[:300],
    )
    failures = ChainCursor.objects.get(network=network).consecutive_failures
    if failures >= settings.CHAIN_CIRCUIT_THRESHOLD:
        pause = min(
            2 ** (failures - settings.CHAIN_CIRCUIT_THRESHOLD + 1),
            settings.CHAIN_CIRCUIT_MAX_SECONDS,
        )
        ChainCursor.objects.filter(network=network).update(
            circuit_open_until=timezone.now() + timedelta(seconds=pause)
        )
        logger.warning(
            "chain circuit open",
            extra={"network": network, "failures": failures, "pause_s": pause},
        )


# --- reading the chain ---------------------------------------------------------------------


def _htlc_addresses(network: str) -> list[ChecksumAddress]:
    addresses = Deployment.objects.filter(network=network, contract=HTLC).values_list(
        "address", flat=True
    )
    return sorted({Web3.to_checksum_address(a) for a in addresses})


@functools.cache
def _event_abis() -> dict[bytes, dict]:
    abi = compiler.compile_contract(HTLC).abi
    events = [e for e in abi if e.get("type") == "event" and e["name"] in ChainEvent.Name.values]
    by_topic: dict[bytes, dict] = {}
    for event in events:
        signature = f"{event['name']}({','.join(i['type'] for i in event['inputs'])})"
        by_topic[bytes(Web3.keccak(text=signature))] = event
    return by_topic


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return Web3.to_hex(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # uint256 does not fit JSON numbers
    return value


def _decode(
    network: str, log: Any, abis: dict[bytes, dict], timestamps: dict[int, int]
) -> HtlcEvent | None:
    abi = abis.get(bytes(log["topics"][0])) if log["topics"] else None
    if abi is None:
        return None
    data = get_event_data(Web3().codec, abi, log)
    args = {key: _jsonable(value) for key, value in data["args"].items()}
    return HtlcEvent(
        network=network,
        name=data["event"],
        lock_id=args["id"],
        tx_hash=Web3.to_hex(log["transactionHash"]),
        log_index=log["logIndex"],
        block_number=log["blockNumber"],
        block_hash=Web3.to_hex(log["blockHash"]),
        block_timestamp=timestamps[log["blockNumber"]],
        contract=Web3.to_checksum_address(log["address"]),
        args=args,
    )


def _fork_base(w3: Web3, network: str) -> int | None:
    """The highest recorded block still on the chain, if a recorded block was replaced.

    None when the newest recorded block is still canonical (then all older ones are too).
    """
    recorded = list(
        ScannedBlock.objects.filter(network=network, number__gt=GENESIS_MARKER)
        .order_by("-number")
        .values_list("number", "hash")
    )
    for position, (number, recorded_hash) in enumerate(recorded):
        block = w3.eth.get_block(number)
        if Web3.to_hex(block["hash"]) == recorded_hash:
            return None if position == 0 else number
    # Every recorded block was replaced: roll back past the oldest one we know.
    return recorded[-1][0] - 1 if recorded else None


# --- storing ---------------------------------------------------------------------------------


def _as_event(row: ChainEvent, *, orphaned: bool) -> HtlcEvent:
    return HtlcEvent(
        network=row.network,
        name=row.name,
        lock_id=row.lock_id,
        tx_hash=row.tx_hash,
        log_index=row.log_index,
        block_number=row.block_number,
        block_hash=row.block_hash,
        block_timestamp=row.block_timestamp,
        contract=row.contract,
        args=row.args,
        orphaned=orphaned,
    )


def _locked_cursor(network: str, owner: str, last_block: int) -> ChainCursor:
    cursor = ChainCursor.objects.select_for_update().get(network=network)
    if cursor.lease_owner != owner or cursor.last_block != last_block:
        raise ScanAborted("lease lost or cursor moved")
    return cursor


def _rollback(network: str, owner: str, last_block: int, base: int) -> int:
    """Orphan every event above block `base`, tell the subscribers, rewind the cursor."""
    with transaction.atomic():
        cursor = _locked_cursor(network, owner, last_block)
        rows = list(
            ChainEvent.objects.filter(
                network=network, orphaned=False, block_number__gt=base
            ).order_by("-block_number", "-log_index")
        )
        ChainEvent.objects.filter(pk__in=[r.pk for r in rows]).update(orphaned=True)
        for hook in subscribers():
            for row in rows:
                hook(_as_event(row, orphaned=True))
        ScannedBlock.objects.filter(network=network, number__gt=base).delete()
        cursor.last_block = min(cursor.last_block, base)
        cursor.save(update_fields=["last_block", "updated_at"])
    logger.warning(
        "chain reorg rolled back",
        extra={"network": network, "fork_base": base, "orphaned_events": len(rows)},
    )
    return len(rows)


def _store(
    network: str,
    owner: str,
    last_block: int,
    to_block: int,
    head: int,
    tip_hash: str,
    events: list[HtlcEvent],
) -> tuple[list[HtlcEvent], int]:
    stored: list[HtlcEvent] = []
    with transaction.atomic():
        cursor = _locked_cursor(network, owner, last_block)
        hooks = subscribers()
        for event in events:
            _, created = ChainEvent.objects.get_or_create(
                network=network,
                tx_hash=event.tx_hash,
                log_index=event.log_index,
                orphaned=False,
                defaults={
                    "block_number": event.block_number,
                    "block_hash": event.block_hash,
                    "block_timestamp": event.block_timestamp,
                    "contract": event.contract,
                    "name": event.name,
                    "lock_id": event.lock_id,
                    "args": event.args,
                },
            )
            if created:
                stored.append(event)
                for hook in hooks:
                    hook(event)
        blocks = {e.block_number: e.block_hash for e in events} | {to_block: tip_hash}
        for number, block_hash in blocks.items():
            ScannedBlock.objects.update_or_create(
                network=network, number=number, defaults={"hash": block_hash}
            )
        ScannedBlock.objects.filter(
            network=network,
            number__gt=GENESIS_MARKER,
            number__lt=to_block - settings.CHAIN_REORG_WINDOW,
        ).delete()
        cursor.last_block = to_block
        cursor.head_block = head
        cursor.consecutive_failures = 0
        cursor.circuit_open_until = None
        cursor.last_error = ""
        cursor.save()
    return stored, len(events) - len(stored)


def _reset_if_new_chain(w3: Web3, network: str, owner: str, last_block: int) -> bool:
    """A local chain restarted from genesis: orphan everything and start over. True if reset."""
    genesis = Web3.to_hex(w3.eth.get_block(0)["hash"])
    known = ScannedBlock.objects.filter(network=network, number=GENESIS_MARKER).first()
    if known and known.hash == genesis:
        return False
    if known is None and last_block < 0:
        ScannedBlock.objects.create(network=network, number=GENESIS_MARKER, hash=genesis)
        return False
    _rollback(network, owner, last_block, base=-1)
    ScannedBlock.objects.update_or_create(
        network=network, number=GENESIS_MARKER, defaults={"hash": genesis}
    )
    logger.warning("chain restarted from genesis; watcher starts over", extra={"network": network})
    return True


# --- the pass ----------------------------------------------------------------------------


def network_scan(*, network: Network, max_blocks: int | None = None) -> ScanResult:
    """Run one watcher pass over `network` (see the module docstring).

    Raises ``ChainUnavailable`` when the RPC fails (after counting the failure);
    returns a ``ScanResult`` otherwise, including when another worker holds the lease.
    """
    owner = uuid.uuid4().hex
    name = network.name
    if not _lease_take(name, owner):
        return ScanResult(name, "busy")
    try:
        cursor = ChainCursor.objects.get(network=name)
        if cursor.circuit_open_until and cursor.circuit_open_until > timezone.now():
            return ScanResult(name, "circuit_open")
        try:
            return _scan(network, owner, cursor.last_block, max_blocks or settings.CHAIN_SCAN_BATCH)
        except ScanAborted as exc:
            logger.info("scan aborted", extra={"network": name, "reason": str(exc)})
            return ScanResult(name, "aborted")
        except Exception as exc:  # RPC and decoding failures alike: count, report, retry later
            _record_failure(name, exc)
            raise ChainUnavailable(f"{name}: {exc}") from exc
    finally:
        _lease_release(name, owner)


def network_catch_up(*, network: Network, budget_seconds: float) -> None:
    """Scan `network` pass after pass until it is caught up with the confirmed head, another
    worker holds it, or `budget_seconds` are spent (the next run goes on from the cursor).

    Raises ``ChainUnavailable`` like ``network_scan``.
    """
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        result = network_scan(network=network)
        if (
            result.status != "scanned"
            or result.to_block is None
            or result.to_block >= ((result.head or 0) - network.confirmations + 1)
        ):
            return


def _scan(network: Network, owner: str, last_block: int, batch: int) -> ScanResult:
    name = network.name
    w3 = evm.web3_for(network)
    if _reset_if_new_chain(w3, name, owner, last_block):
        return ScanResult(name, "reset")
    base = _fork_base(w3, name)
    if base is not None:
        count = _rollback(name, owner, last_block, base)
        return ScanResult(name, "rolled_back", to_block=base, orphaned=count)

    head = w3.eth.block_number
    safe = head - network.confirmations + 1
    from_block = last_block + 1
    to_block = min(safe, from_block + batch - 1)
    if to_block < from_block:
        ChainCursor.objects.filter(network=name).update(head_block=head)
        return ScanResult(name, "idle", head=head)

    addresses = _htlc_addresses(name)
    logs = (
        w3.eth.get_logs({"address": addresses, "fromBlock": from_block, "toBlock": to_block})
        if addresses
        else []
    )
    numbers = sorted({log["blockNumber"] for log in logs} | {to_block})
    blocks = {n: w3.eth.get_block(n) for n in numbers}
    for log in logs:
        if blocks[log["blockNumber"]]["hash"] != log["blockHash"]:
            raise ScanAborted(f"block {log['blockNumber']} changed during the scan")
    abis = _event_abis()
    timestamps = {n: int(b["timestamp"]) for n, b in blocks.items()}
    events = [e for e in (_decode(name, log, abis, timestamps) for log in logs) if e is not None]
    events.sort(key=lambda e: (e.block_number, e.log_index))
    stored, duplicates = _store(
        name, owner, last_block, to_block, head, Web3.to_hex(blocks[to_block]["hash"]), events
    )
    return ScanResult(
        name,
        "scanned",
        from_block=from_block,
        to_block=to_block,
        head=head,
        stored=len(stored),
        duplicates=duplicates,
        events=stored,
    )


def cursor_rewind(*, network: str, before_block: int) -> None:
    """Make the watcher (re)read from `before_block` on: used when a contract is deployed.

    Safe at any time: re-reading stores nothing twice.
    """
    ChainCursor.objects.get_or_create(network=network)
    ChainCursor.objects.filter(network=network, last_block__gte=before_block).update(
        last_block=before_block - 1
    )
