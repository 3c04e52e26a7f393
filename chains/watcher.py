"""The chain watcher: reads HTLC events from confirmed blocks, stores each once, hands it on.

A scan of one network (``network_scan``: one batch of blocks; ``network_catch_up``: batch
after batch until caught up or out of time) runs under the network's scan lease:

1. Take the lease: a conditional UPDATE on the network's ``ChainCursor`` row, so on SQLite
   and PostgreSQL alike only one worker scans a network at a time. The lease is short
   (``CHAIN_SCAN_LEASE_SECONDS``) and the holder renews it with every batch, so a worker
   killed mid-scan blocks the network for at most one lease, however long its scan was
   meant to run. A refused scan is logged with the holder and its age and counted
   (``chain_scan_skipped_total``). A row lease rather than a PostgreSQL advisory lock:
   one mechanism for both databases, it survives connection poolers, and a worker that
   hangs (not dead, not scanning) loses it too.
2. Each batch reads from the RPC, outside any transaction, in three HTTP requests:
   one JSON-RPC batch with the head, the genesis hash (a local chain that was restarted
   starts over) and the hash of the newest recorded block (reorgs; all recorded blocks
   are read only when that one changed); ``eth_getLogs`` over the next confirmed blocks;
   one JSON-RPC batch with the headers (hash, timestamp) of the blocks holding events and
   of the batch's first and last blocks. The first block's parent must be the block last
   stored (a reorg between the head check and the reads shows there: the batch stores
   nothing, and the next one rolls the reorg back). A block counts once it has
   ``confirmations`` blocks on top of it, itself included. In a catch-up, the genesis hash
   and the newest recorded block are those the last batch stored, not read back
   (``_LeaseState``). The head as read is written to the cursor at once, with
   ``updated_at`` (written only with the head, so it says when the head was read), so
   ``chain_lag_blocks`` is fresh even when the batch later fails (``chains.metrics``).
3. In one transaction per batch, if the lease is still ours and the cursor has not moved
   (checked under a row lock on the cursor): either roll back what came from orphaned
   blocks, or insert the batch's new events in one statement (a COPY on PostgreSQL,
   ``chains.bulk``; unique on network, tx hash and log index; which ones are new is read
   under that row lock, which every writer of events takes, so a repeated range inserts
   and announces nothing), hand the new events to the subscribers, record the hashes of
   the blocks the reorg window keeps, advance the cursor and renew the lease. The number
   of queries a batch costs does not grow with its events or blocks (each table is read
   in one query a batch, its keys sent as one parameter: ``core.sql.in_values``).

An RPC failure stores nothing and moves no cursor, so nothing is skipped when the RPC
comes back; failures count towards a per-network circuit breaker.

Handing on (``chains.events.publish``): each subscriber, in ``chains.events.subscribers()``
order (the lock table first), is called once per batch with the list of the batch's new
``HtlcEvent``s in chain order, and once per rollback with the orphaned ones, newest first
(``orphaned=True``). So each event is heard once when it is confirmed and once more if a
reorg orphans it. A batch's new ``ChainEvent`` rows are all inserted before the subscribers
are called; they learn chain facts from the lock table, which has applied the whole list
before the next subscriber hears it. All of it runs inside the batch's transaction: if
anything raises, nothing of that batch is stored and the same events come again.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from eth_abi import decode as abi_decode
from web3 import Web3

from chains import bulk, compiler, metrics, rpc
from chains.escrow import ESCROW
from chains.events import publish
from chains.interface import HTLC, ChainUnavailable, HtlcEvent
from chains.models import ChainCursor, ChainEvent, Deployment, ScannedBlock
from chains.networks import Network
from core.sql import in_values

logger = logging.getLogger(__name__)

GENESIS_MARKER = -1  # ScannedBlock.number under which the genesis hash is kept


@dataclass
class ScanResult:
    network: str
    status: str  # scanned | idle | busy | circuit_open | rolled_back | reset | aborted
    from_block: int | None = None
    to_block: int | None = None
    head: int | None = None
    stored: int = 0
    duplicates: int = 0
    orphaned: int = 0
    events: list[HtlcEvent] = field(default_factory=list)
    batches: int = 0  # batches run under this lease (network_catch_up runs several)


class ScanAborted(Exception):
    """The chain changed under the scan (or the lease was lost); nothing was stored."""


# --- lease and circuit breaker -----------------------------------------------------------


def _lease_seconds() -> int:
    return int(settings.CHAIN_SCAN_LEASE_SECONDS)


def _cursor(network: str) -> ChainCursor:
    cursor, _ = ChainCursor.objects.get_or_create(network=network)
    return cursor


def _owner_new() -> str:
    """A lease owner id that says who took the lease and when (the cursor has no column
    for either): ``<unix time>:<pid>:<random>:<host>``."""
    return f"{int(time.time())}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{socket.gethostname()}"[:64]


def _owner_age(owner: str) -> float | None:
    """Seconds since `owner` took its lease; None for an owner id of another shape."""
    try:
        return max(time.time() - int(owner.split(":", 1)[0]), 0.0)
    except ValueError:
        return None


def _lease_take(network: str, owner: str) -> bool:
    now = timezone.now()
    _cursor(network)
    taken = (
        ChainCursor.objects.filter(network=network)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=owner))
        .update(lease_owner=owner, lease_until=now + timedelta(seconds=_lease_seconds()))
    )
    return taken == 1


def _lease_release(network: str, owner: str) -> None:
    ChainCursor.objects.filter(network=network, lease_owner=owner).update(
        lease_owner="", lease_until=None
    )


def _skipped(network: str, reason: str, **extra: Any) -> None:
    metrics.scan_skipped(network=network, reason=reason)
    logger.info("chain scan skipped", extra={"network": network, "reason": reason, **extra})


def _refused(network: str) -> ScanResult:
    """Another worker holds the lease: say who, for how long, and count it."""
    owner, until = ChainCursor.objects.filter(network=network).values_list(
        "lease_owner", "lease_until"
    ).first() or ("", None)
    age = _owner_age(owner)
    _skipped(
        network,
        "busy",
        holder=owner,
        holder_age_s=None if age is None else round(age, 1),
        lease_left_s=None if until is None else round((until - timezone.now()).total_seconds(), 1),
    )
    return ScanResult(network, "busy")


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


# The contracts whose events the watcher stores (their ChainEvent.Name events).
WATCHED = (HTLC, ESCROW)


def _htlc_addresses(network: str) -> list[str]:
    """The watched contracts of `network`: every HTLC and Escrow it has had."""
    addresses = Deployment.objects.filter(network=network, contract__in=WATCHED).values_list(
        "address", flat=True
    )
    return sorted({Web3.to_checksum_address(a) for a in addresses})


@dataclass(frozen=True)
class _EventShape:
    """What decoding one HTLC event needs, from its ABI."""

    name: str
    topics: tuple[tuple[str, str], ...]  # indexed inputs (name, type), in topic order
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]
    # Per topic, the reader of its word (None: the hash of a dynamic value, kept as is);
    # per data word, its reader, when every data input is one word (None otherwise).
    topic_readers: tuple[Callable[[str], Any] | None, ...] = ()
    data_readers: tuple[Callable[[str], Any], ...] | None = None


@functools.cache
def _event_shapes() -> dict[str, _EventShape]:
    """The stored HTLC and Escrow events keyed by topic 0 (lowercase 0x hex)."""
    abi = [item for contract in WATCHED for item in compiler.compile_contract(contract).abi]
    shapes: dict[str, _EventShape] = {}
    for event in abi:
        if event.get("type") != "event" or event["name"] not in ChainEvent.Name.values:
            continue
        inputs = event["inputs"]
        signature = f"{event['name']}({','.join(i['type'] for i in inputs)})"
        topics = tuple((i["name"], i["type"]) for i in inputs if i["indexed"])
        data_types = tuple(i["type"] for i in inputs if not i["indexed"])
        shapes[Web3.keccak(text=signature).to_0x_hex()] = _EventShape(
            name=event["name"],
            topics=topics,
            data_names=tuple(i["name"] for i in inputs if not i["indexed"]),
            data_types=data_types,
            topic_readers=tuple(_word_reader(t) if _is_word(t) else None for _, t in topics),
            data_readers=(
                tuple(_word_reader(t) for t in data_types)
                if all(_is_word(t) for t in data_types)
                else None
            ),
        )
    return shapes


@functools.lru_cache(maxsize=4096)
def _checksum(address: str) -> str:
    # Addresses repeat (senders, tokens, the contract) and checksumming costs a keccak.
    return Web3.to_checksum_address(address)


def _jsonable(abi_type: str, value: Any) -> Any:
    """As web3's event decoding gives it (checksummed addresses), then JSON-safe."""
    if abi_type == "address":
        return _checksum(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # uint256 does not fit JSON numbers
    return value


def _word(abi_type: str, word: str) -> Any:
    """One 32-byte ABI word (64 hex digits) of a static elementary type, JSON-safe; the same
    as eth_abi's decoding through ``_jsonable``, at a tenth of its cost, which matters at
    thousands of events per second. Other types go through eth_abi."""
    if abi_type == "address":
        return _checksum("0x" + word[24:])
    if abi_type.startswith("uint"):
        return str(int(word, 16))
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        return "0x" + word[: 2 * int(abi_type[5:])]
    if abi_type == "bool":
        return int(word, 16) != 0
    return _jsonable(abi_type, abi_decode([abi_type], bytes.fromhex(word))[0])


def _word_reader(abi_type: str) -> Callable[[str], Any]:
    """``_word`` for one type, its branch chosen once per type rather than once per word
    (a quarter of an event's decoding time)."""
    if abi_type == "address":
        return lambda word: _checksum("0x" + word[24:])
    if abi_type.startswith("uint"):
        return lambda word: str(int(word, 16))
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        digits = 2 * int(abi_type[5:])
        return lambda word: "0x" + word[:digits]
    return functools.partial(_word, abi_type)


def _words(abi_types: tuple[str, ...], data: str) -> list[Any]:
    if all(_is_word(t) for t in abi_types) and len(data) == 2 + 64 * len(abi_types):
        return [_word(t, data[2 + 64 * i : 66 + 64 * i]) for i, t in enumerate(abi_types)]
    values = abi_decode(abi_types, bytes.fromhex(data[2:]))
    return [_jsonable(t, v) for t, v in zip(abi_types, values, strict=True)]


@functools.cache
def _is_word(abi_type: str) -> bool:
    """A type encoded in place in one word (so a topic holds its value, not its hash)."""
    if abi_type in ("address", "bool"):
        return True
    for prefix in ("uint", "int", "bytes"):
        if abi_type.startswith(prefix) and abi_type[len(prefix) :].isdigit():
            return True
    return False


def _decode(
    network: str, log: dict, shapes: dict[str, _EventShape], timestamps: dict[int, int]
) -> HtlcEvent | None:
    """One raw ``eth_getLogs`` entry as an ``HtlcEvent``; None if it is not a stored event.

    Raises ``ValueError`` for a log whose topics do not fit its event's ABI."""
    topics = log["topics"]
    shape = shapes.get(topics[0].lower()) if topics else None
    if shape is None:
        return None
    if len(topics) != 1 + len(shape.topics):
        raise ValueError(f"{shape.name} log with {len(topics)} topics")
    # An indexed value of a dynamic type is only its hash: kept as the topic, like web3.
    indexed = zip(shape.topics, shape.topic_readers, topics[1:], strict=True)
    args = {
        name: read(topic[2:].lower()) if read else topic.lower()
        for (name, _), read, topic in indexed
    }
    data = log["data"].lower()
    readers = shape.data_readers
    if readers is not None and len(data) == 2 + 64 * len(readers):
        for i, (name, read) in enumerate(zip(shape.data_names, readers, strict=True)):
            args[name] = read(data[2 + 64 * i : 66 + 64 * i])
    else:
        args.update(zip(shape.data_names, _words(shape.data_types, data), strict=True))
    number = int(log["blockNumber"], 16)
    return HtlcEvent(
        network=network,
        name=shape.name,
        lock_id=args["id"],
        tx_hash=log["transactionHash"].lower(),
        log_index=int(log["logIndex"], 16),
        block_number=number,
        block_hash=log["blockHash"].lower(),
        block_timestamp=timestamps[number],
        contract=_checksum(log["address"]),
        args=args,
    )


def _blocks(rpc_url: str, numbers: Iterable[int]) -> dict[int, dict | None]:
    """Headers (no transactions) of `numbers`, in one batch request; None for a block the
    node does not have."""
    numbers = list(numbers)
    calls = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
    return dict(zip(numbers, rpc.batch_call(rpc_url, calls), strict=True))


def _fork_base(rpc_url: str, network: str) -> int | None:
    """The highest recorded block still on the chain, if a recorded block was replaced.

    None when the newest recorded block is still canonical (then all older ones are too,
    since each block's hash covers its parent's).
    """
    recorded = list(
        ScannedBlock.objects.filter(network=network, number__gt=GENESIS_MARKER)
        .order_by("-number")
        .values_list("number", "hash")
    )
    on_chain = _blocks(rpc_url, [number for number, _ in recorded])
    for position, (number, recorded_hash) in enumerate(recorded):
        block = on_chain[number]
        if block is not None and block["hash"].lower() == recorded_hash:
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


def _locked_cursor(network: str, owner: str, last_block: int | None, *, renew: bool = True) -> None:
    """Lock the cursor row for the rest of the transaction and renew the lease (unless
    `renew` is false: then the caller renews it in its own update of the row).

    Raises ``ScanAborted`` if the lease is no longer ours or (unless `last_block` is None)
    the cursor moved since the batch read it."""
    cursor = ChainCursor.objects.select_for_update().get(network=network)
    if cursor.lease_owner != owner or (last_block is not None and cursor.last_block != last_block):
        raise ScanAborted("lease lost or cursor moved")
    if renew:
        ChainCursor.objects.filter(network=network).update(lease_until=_lease_end())


def _lease_end() -> datetime:
    return timezone.now() + timedelta(seconds=_lease_seconds())


def _rollback(network: str, owner: str, last_block: int | None, base: int) -> int:
    """Orphan every event above block `base`, tell the subscribers, rewind the cursor."""
    with transaction.atomic():
        _locked_cursor(network, owner, last_block)
        rows = list(
            ChainEvent.objects.filter(
                network=network, orphaned=False, block_number__gt=base
            ).order_by("-block_number", "-log_index")
        )
        ChainEvent.objects.filter(pk__in=[r.pk for r in rows]).update(orphaned=True)
        publish([_as_event(row, orphaned=True) for row in rows])
        ScannedBlock.objects.filter(network=network, number__gt=base).delete()
        ChainCursor.objects.filter(network=network, last_block__gt=base).update(last_block=base)
    logger.warning(
        "chain reorg rolled back",
        extra={"network": network, "fork_base": base, "orphaned_events": len(rows)},
    )
    return len(rows)


EVENT_FIELDS = (
    "network",
    "tx_hash",
    "log_index",
    "block_number",
    "block_hash",
    "block_timestamp",
    "contract",
    "name",
    "lock_id",
    "args",
    "orphaned",
    "created_at",
)


def _insert_new(network: str, events: list[HtlcEvent]) -> list[HtlcEvent]:
    """Insert the events not stored yet, in one statement (``chains.bulk``); return those,
    in the order given.

    Precondition: the cursor row is locked (every writer of a network's events holds that
    lock, so what is stored cannot change between the read and the insert). A row the read
    missed would still hit the unique constraint and roll the batch back, never be doubled.
    """
    stored: set[tuple[str, int]] = set()
    if events:
        stored.update(
            ChainEvent.objects.filter(
                network=network,
                orphaned=False,
                tx_hash__in=in_values({e.tx_hash for e in events}),
            )
            .order_by()
            .values_list("tx_hash", "log_index")
        )
    new = [e for e in events if (e.tx_hash, e.log_index) not in stored]
    now = timezone.now()
    bulk.rows_insert(
        ChainEvent,
        EVENT_FIELDS,
        (
            (
                network,
                e.tx_hash,
                e.log_index,
                e.block_number,
                e.block_hash,
                e.block_timestamp,
                e.contract,
                e.name,
                e.lock_id,
                e.args,
                False,
                now,
            )
            for e in new
        ),
    )
    return new


def _store(
    network: str,
    owner: str,
    last_block: int,
    to_block: int,
    head: int,
    block_hashes: dict[int, str],
    events: list[HtlcEvent],
) -> tuple[list[HtlcEvent], int]:
    """Store a batch and hand its new events on, in one transaction (module docstring, 3)."""
    with transaction.atomic():
        _locked_cursor(network, owner, last_block, renew=False)  # renewed at the end
        stored = _insert_new(network, events)
        publish(stored)
        # Only the blocks the reorg window keeps. Recorded hashes older than the window go,
        # and so do those of this batch's range (recorded before a rewind of the cursor):
        # the range's hashes are then written afresh, in one COPY.
        oldest_kept = to_block - settings.CHAIN_REORG_WINDOW
        ScannedBlock.objects.filter(network=network, number__gt=GENESIS_MARKER).filter(
            Q(number__lt=oldest_kept) | Q(number__gt=last_block, number__lte=to_block)
        ).delete()
        bulk.rows_insert(
            ScannedBlock,
            ("network", "number", "hash"),
            ((network, n, h) for n, h in block_hashes.items() if n >= oldest_kept),
        )
        # Renewed last, so a live scanner's lease runs a full lease from its commit
        # however long the batch took.
        ChainCursor.objects.filter(network=network).update(
            last_block=to_block,
            lease_until=_lease_end(),
            head_block=head,
            updated_at=timezone.now(),
            consecutive_failures=0,
            circuit_open_until=None,
            last_error="",
        )
    return stored, len(events) - len(stored)


def _reset_if_new_chain(network: str, owner: str, last_block: int, genesis: str) -> bool:
    """A local chain restarted from genesis: orphan everything and start over. True if reset."""
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


# --- the scan ------------------------------------------------------------------------------


def _under_lease(network: Network, run: Callable[[str], ScanResult]) -> ScanResult:
    """Take the lease, run `run(owner)` unless the circuit is open, release the lease.

    Raises ``ChainUnavailable`` when the RPC fails (after counting the failure)."""
    owner = _owner_new()
    name = network.name
    if not _lease_take(name, owner):
        return _refused(name)
    try:
        cursor = ChainCursor.objects.get(network=name)
        if cursor.circuit_open_until and cursor.circuit_open_until > timezone.now():
            _skipped(name, "circuit_open", failures=cursor.consecutive_failures)
            return ScanResult(name, "circuit_open")
        try:
            return run(owner)
        except ScanAborted as exc:
            _skipped(name, "aborted", detail=str(exc))
            return ScanResult(name, "aborted")
        except Exception as exc:  # RPC and decoding failures alike: count, report, retry later
            _record_failure(name, exc)
            raise ChainUnavailable(f"{name}: {exc}") from exc
    finally:
        _lease_release(name, owner)


def network_scan(*, network: Network, max_blocks: int | None = None) -> ScanResult:
    """Run one batch of the watcher over `network` (see the module docstring).

    Raises ``ChainUnavailable`` when the RPC fails (after counting the failure);
    returns a ``ScanResult`` otherwise, including when another worker holds the lease.
    """
    batch = max_blocks or settings.CHAIN_SCAN_BATCH
    return _under_lease(network, lambda owner: _batch(network, owner, batch))


def network_catch_up(*, network: Network, budget_seconds: float) -> ScanResult:
    """Scan `network` batch after batch, under one lease renewed by each, until it is caught
    up with the confirmed head, another worker holds it, or `budget_seconds` are spent (the
    next run goes on from the cursor). Returns the totals, with the last batch's status.

    Raises ``ChainUnavailable`` like ``network_scan``.
    """
    deadline = time.monotonic() + budget_seconds

    def run(owner: str) -> ScanResult:
        lease = _LeaseState()
        total = ScanResult(network.name, "idle")
        while True:
            result = _batch(network, owner, settings.CHAIN_SCAN_BATCH, lease)
            total.status, total.head = result.status, result.head
            total.to_block = result.to_block if result.to_block is not None else total.to_block
            if total.from_block is None:
                total.from_block = result.from_block
            total.stored += result.stored
            total.duplicates += result.duplicates
            total.orphaned += result.orphaned
            total.events += result.events
            total.batches += 1
            caught_up = (
                result.status != "scanned"
                or result.to_block is None
                or result.to_block >= ((result.head or 0) - network.confirmations + 1)
            )
            if caught_up or time.monotonic() >= deadline:
                return total

    return _under_lease(network, run)


_gc_lock = threading.Lock()
_gc_pausers = 0  # batches under way in this process
_gc_was_enabled = True  # the collector's state before the first of them


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one batch, then restore it as it was.

    A batch of thousands of events allocates hundreds of thousands of objects, which makes
    the collector walk the worker's whole heap (Django, web3, the compiled ABIs: some
    370,000 objects, 0.3 s a walk on this project's machine) several times a batch: at
    5,000 events a batch, that was a third of the watcher's time. Reference counting
    frees nearly all of a batch's objects at once anyway; the few cycles wait for the next
    collection after the batch, so memory stays bounded by one batch.

    The collector is one per process, and batches of several networks run at once in the
    head follower's threads: the first batch in pauses it, the last one out restores it.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def _batch(
    network: Network, owner: str, batch: int, lease: _LeaseState | None = None
) -> ScanResult:
    """One batch under the lease `owner` holds (see the module docstring, 2 and 3)."""
    with _cyclic_gc_paused():
        return _batch_run(network, owner, batch, lease)


@dataclass(frozen=True)
class _Head:
    """The first request of a batch: the head, the genesis hash, and the chain's hash at the
    number of the newest recorded block (None: none recorded, or the node lacks it)."""

    head: int
    genesis: str
    newest: str | None


@dataclass(frozen=True)
class _Range:
    """A range of confirmed blocks as read: its events (decoded, in chain order), the hashes
    of the blocks holding them and of its first and last blocks, its first block's parent."""

    from_block: int
    to_block: int
    hashes: dict[int, str]
    parent: str
    events: list[HtlcEvent]


@dataclass
class _LeaseState:
    """What one lease's catch-up carries from a batch it stored to the next one: the genesis
    hash, the newest recorded block and the batch's last block, as that batch stored them.
    The next batch trusts them instead of reading them back (only this lease's holder
    writes them; any batch that does not end "scanned" ends the catch-up, and with it this
    state)."""

    known: tuple[str, tuple[int, str] | None, tuple[int, str]] | None = None


def _read_head(rpc_url: str, newest: tuple[int, str] | None) -> _Head:
    calls: list[tuple[str, list]] = [
        ("eth_blockNumber", []),
        ("eth_getBlockByNumber", ["0x0", False]),
    ]
    if newest is not None:
        calls.append(("eth_getBlockByNumber", [hex(newest[0]), False]))
    answers = rpc.batch_call(rpc_url, calls)
    at_newest = answers[2] if newest is not None else None
    return _Head(
        head=int(answers[0], 16),
        genesis=answers[1]["hash"].lower(),
        newest=None if at_newest is None else at_newest["hash"].lower(),
    )


def _span(network: Network, head: int, last_block: int, batch: int) -> tuple[int, int] | None:
    """The next batch's blocks: confirmed ones after `last_block`, at most `batch`."""
    safe = head - network.confirmations + 1
    from_block = last_block + 1
    to_block = min(safe, from_block + batch - 1)
    return None if to_block < from_block else (from_block, to_block)


def _read_range(
    network: Network, addresses: tuple[str, ...], from_block: int, to_block: int
) -> _Range:
    """The events of `addresses` in [from_block, to_block], with the headers that check them:
    raises ``ScanAborted`` if a block holding events changed between the two reads."""
    name, url = network.name, network.rpc_url
    shapes = _event_shapes()
    logs: list[dict] = (
        rpc.call(
            url,
            "eth_getLogs",
            [
                {
                    "address": list(addresses),
                    "fromBlock": hex(from_block),
                    "toBlock": hex(to_block),
                    "topics": [sorted(shapes)],
                }
            ],
        )
        if addresses
        else []
    )
    numbers = {int(log["blockNumber"], 16) for log in logs} | {from_block, to_block}
    blocks = _blocks(url, sorted(numbers))
    hashes: dict[int, str] = {}
    timestamps: dict[int, int] = {}
    parent = ""
    for number, block in blocks.items():
        if block is None:
            raise ScanAborted(f"block {number} vanished during the scan")
        hashes[number] = block["hash"].lower()
        timestamps[number] = int(block["timestamp"], 16)
        if number == from_block:
            parent = block["parentHash"].lower()
    for log in logs:
        if hashes[int(log["blockNumber"], 16)] != log["blockHash"].lower():
            raise ScanAborted(f"block {int(log['blockNumber'], 16)} changed during the scan")
    events = [e for e in (_decode(name, log, shapes, timestamps) for log in logs) if e is not None]
    events.sort(key=lambda e: (e.block_number, e.log_index))
    return _Range(from_block, to_block, hashes, parent, events)


def _batch_run(
    network: Network, owner: str, batch: int, lease: _LeaseState | None = None
) -> ScanResult:
    """One batch (module docstring, 2 and 3); under a catch-up's `lease`, with what the last
    batch left it (``_LeaseState``)."""
    name, url = network.name, network.rpc_url
    last_block = ChainCursor.objects.values_list("last_block", flat=True).get(network=name)
    genesis: str | None = None
    last: tuple[int, str] | None = None  # the recorded hash of block `last_block`, if known
    if lease is not None and lease.known is not None:
        genesis, newest, last = lease.known
        if last[0] != last_block:  # the cursor was rewound since
            last = None
    else:
        newest = (
            ScannedBlock.objects.filter(network=name, number__gt=GENESIS_MARKER)
            .order_by("-number")
            .values_list("number", "hash")
            .first()
        )
    if newest is not None and newest[0] == last_block:
        last = newest
    head = _read_head(url, newest)
    # The head as seen, at once (whatever happens next), and the lease renewed for the reads.
    if not ChainCursor.objects.filter(network=name, lease_owner=owner).update(
        head_block=head.head,
        updated_at=timezone.now(),
        lease_until=timezone.now() + timedelta(seconds=_lease_seconds()),
    ):
        raise ScanAborted("lease lost")

    if head.genesis != genesis and _reset_if_new_chain(name, owner, last_block, head.genesis):
        return ScanResult(name, "reset", head=head.head, batches=1)
    if newest is not None and head.newest != newest[1]:
        base = _fork_base(url, name)
        if base is not None:
            count = _rollback(name, owner, last_block, base)
            return ScanResult(name, "rolled_back", to_block=base, orphaned=count, batches=1)

    span = _span(network, head.head, last_block, batch)
    if span is None:
        return ScanResult(name, "idle", head=head.head, batches=1)
    reading = _read_range(network, tuple(_htlc_addresses(name)), *span)
    from_block, to_block = span
    # The range must grow from the block last stored: a reorg between the head check and
    # the reads shows here.
    if last is not None and reading.parent != last[1]:
        raise ScanAborted(f"block {last_block} was replaced during the scan")
    stored, duplicates = _store(
        name, owner, last_block, to_block, head.head, reading.hashes, reading.events
    )
    if lease is not None:
        stored_last = (to_block, reading.hashes[to_block])
        # The newest recorded block is now this batch's last, unless one above it was kept.
        newest_after = max(stored_last, newest or stored_last, key=lambda block: block[0])
        lease.known = (head.genesis, newest_after, stored_last)
    return ScanResult(
        name,
        "scanned",
        from_block=from_block,
        to_block=to_block,
        head=head.head,
        stored=len(stored),
        duplicates=duplicates,
        events=stored,
        batches=1,
    )


def cursor_rewind(*, network: str, before_block: int) -> None:
    """Make the watcher (re)read from `before_block` on: used when a contract is deployed.

    Safe at any time: re-reading stores nothing twice.
    """
    ChainCursor.objects.get_or_create(network=network)
    ChainCursor.objects.filter(network=network, last_block__gte=before_block).update(
        last_block=before_block - 1
    )
