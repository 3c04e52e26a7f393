"""Reads other apps may use. Plain dataclasses out (``chains.interface``); no web3 object
and no chain-fact model row crosses this line."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from chains import rpc
from chains.interface import HTLC, EventRef, Lock, LockState
from chains.models import Asset, ChainCursor, ChainEvent, Deployment, HtlcLock
from chains.networks import Network, configured_networks
from core.sql import in_values


def network_list() -> list[Network]:
    """Every enabled network, in configured order."""
    return configured_networks()


def network_get(name: str) -> Network | None:
    """The enabled network called ``name``, or None."""
    return next((n for n in configured_networks() if n.name == name), None)


def network_probe(network: Network) -> str:
    """Ask the network's RPC for its chain id and head block.

    Raises ``RuntimeError`` when the node answers for another chain, and lets
    transport errors propagate, so callers (health checks) can report them.
    """
    chain_id = int(rpc.call(network.rpc_url, "eth_chainId"), 16)
    if chain_id != network.chain_id:
        raise RuntimeError(f"RPC answers chain id {chain_id}, expected {network.chain_id}")
    head = int(rpc.call(network.rpc_url, "eth_blockNumber"), 16)
    return f"chain {chain_id}, head block {head}"


def htlc_deployment_get(network: str) -> Deployment | None:
    """The active HTLC deployment on `network`, if any."""
    return Deployment.objects.filter(network=network, contract=HTLC, active=True).first()


def htlc_deployments_by_network() -> dict[str, Deployment]:
    """Active HTLC deployments keyed by network name (one query)."""
    return {d.network: d for d in Deployment.objects.filter(contract=HTLC, active=True)}


def htlc_abi() -> list[dict]:
    """The HTLC's ABI, compiled from the source in this release."""
    from chains.compiler import compile_contract

    return compile_contract(HTLC).abi


def asset_list(*, network: str | None = None) -> QuerySet[Asset]:
    """Enabled assets on enabled networks, optionally of one network."""
    names = [n.name for n in configured_networks()]
    qs = Asset.objects.filter(enabled=True, network__in=names)
    return qs.filter(network=network) if network else qs


def asset_get(asset_id: int) -> Asset | None:
    """An enabled asset by id, or None."""
    return asset_list().filter(pk=asset_id).first()


def watcher_probe(network: Network) -> str:
    """Report the watcher's state on `network`; raises ``RuntimeError`` when it is failing."""
    cursor = ChainCursor.objects.filter(network=network.name).first()
    if cursor is None:
        return "not started"
    detail = f"cursor {cursor.last_block}, head {cursor.head_block}"
    if cursor.circuit_open_until and cursor.circuit_open_until > timezone.now():
        raise RuntimeError(f"circuit open after {cursor.consecutive_failures} failures: {detail}")
    if cursor.consecutive_failures:
        raise RuntimeError(f"{cursor.consecutive_failures} failed passes: {cursor.last_error}")
    return detail


def cursor_list() -> list[ChainCursor]:
    """Watcher cursors of every network that has one."""
    return list(ChainCursor.objects.order_by("network"))


def _lock(row: HtlcLock) -> Lock:
    return Lock(
        network=row.network,
        lock_id=row.lock_id.lower(),
        token=row.token.lower(),
        sender=row.sender.lower(),
        recipient=row.recipient.lower(),
        amount=int(row.amount),
        hashlock=row.hashlock.lower(),
        timelock=int(row.timelock),
        state=LockState(row.state),
        locked_block=row.locked_block,
        preimage=row.preimage,
    )


def htlc_locks_with_hashlock(hashlock: str) -> list[Lock]:
    """Every confirmed, non-orphaned lock carrying `hashlock`, on any network, oldest first."""
    rows = HtlcLock.objects.filter(hashlock=hashlock.lower()).order_by("locked_block", "lock_id")
    return [_lock(row) for row in rows]


def htlc_lock_get(*, network: str, lock_id: str) -> Lock | None:
    """One confirmed lock as the watcher recorded it, or None."""
    row = HtlcLock.objects.filter(network=network, lock_id=lock_id.lower()).first()
    return _lock(row) if row is not None else None


def htlc_lock_hashlocks(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The hashlock (lowercase) of each recorded lock among the (network, lock_id) pairs;
    a lock not recorded is left out. One query per network (one for a watcher batch), the ids
    in one parameter (``core.sql.in_values``), on the unique (network, lock_id) index."""
    by_network: dict[str, set[str]] = {}
    for network, lock_id in keys:
        by_network.setdefault(network, set()).add(lock_id)
    found: dict[tuple[str, str], str] = {}
    for network, ids in by_network.items():
        rows = HtlcLock.objects.filter(network=network, lock_id__in=in_values(sorted(ids)))
        for lock_id, hashlock in rows.order_by().values_list("lock_id", "hashlock"):
            found[(network, lock_id)] = hashlock.lower()
    return found


def live_lock_keys(keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (network, lock_id) pairs are still locked, in one query."""
    if not keys:
        return set()
    ids = {lock_id.lower() for _, lock_id in keys}
    rows = HtlcLock.objects.filter(lock_id__in=ids, state=HtlcLock.State.LOCKED).values_list(
        "network", "lock_id"
    )
    wanted = {(network, lock_id.lower()) for network, lock_id in keys}
    return {(n, lid) for n, lid in rows if (n, lid.lower()) in wanted}


def chain_event_get(*, network: str, lock_id: str, name: str) -> EventRef | None:
    """Where the confirmed (not orphaned) event `name` of a lock is: the evidence for a swap
    step."""
    row = (
        ChainEvent.objects.filter(network=network, lock_id=lock_id, name=name, orphaned=False)
        .order_by("block_number", "log_index")
        .values_list("network", "tx_hash", "block_number")
        .first()
    )
    return EventRef(*row) if row is not None else None


def explorer_tx_url(*, network: str, tx_hash: str) -> str:
    """A link to `tx_hash` on the network's block explorer ("" when it has none)."""
    found = network_get(network)
    if found is None or not found.explorer_url or not tx_hash:
        return ""
    return f"{found.explorer_url.rstrip('/')}/tx/{tx_hash}"
