"""Wallet balances per configured asset: the native coin and each ERC-20 token.

Every enabled asset on every enabled network is read for every address, with plain
JSON-RPC batches (``eth_getBalance`` and ``balanceOf`` through ``eth_call``): one HTTP
request per network for a handful of wallets, networks in parallel, each with a short
timeout (``WALLET_BALANCE_RPC_TIMEOUT``). A network that cannot answer gives its rows
``status="unavailable"``; it never raises. Results are cached for
``WALLET_BALANCE_CACHE_SECONDS`` per set of addresses (and per asset configuration).

Callers get :class:`Balance` frozen dataclasses with ``Decimal`` amounts scaled by the
asset's ``decimals``; no web3 object leaves this module.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import httpx
from django.conf import settings
from django.core.cache import cache
from eth_utils import is_address, to_checksum_address

from chains.models import Asset
from chains.networks import Network
from chains.selectors import asset_list, network_list

logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
# bytes4(keccak256("balanceOf(address)"))
BALANCE_OF_SELECTOR = "70a08231"
# Calls per JSON-RPC batch: public providers cap batch sizes (some at 100), so larger
# address sets are sent as several batches.
BATCH_MAX = 100
# Networks read at the same time; more would only queue behind the same timeout.
PARALLEL_NETWORKS = 8
CACHE_PREFIX = "chains:balances:v1:"

_ids = itertools.count(1)


@dataclass(frozen=True)
class Balance:
    """What ``address`` holds of one asset, or ``amount=None`` when the network is unavailable.

    ``amount`` is exact: the base units scaled by ``decimals``, with exactly ``decimals``
    digits after the point (``Decimal("1.500000")`` for 1.5 of a 6-decimal token).
    """

    address: str  # EIP-55 checksummed
    network: str
    chain_id: int
    asset_id: int
    symbol: str
    decimals: int
    token: str | None  # the ERC-20 contract; None for the native coin
    amount: Decimal | None
    status: str  # OK or UNAVAILABLE


class _NetworkDown(Exception):
    """The network did not answer, answered for another chain, or answered nonsense."""


@dataclass(frozen=True)
class _Plan:
    """The assets to read on one network."""

    network: Network
    assets: tuple[Asset, ...]


def scaled(raw: int, decimals: int) -> Decimal:
    """``raw`` base units as an exact Decimal with ``decimals`` places (no context rounding).

    >>> scaled(1_500_000, 6)
    Decimal('1.500000')
    """
    if raw < 0:
        raise ValueError("a balance cannot be negative")
    # Built from a digit tuple, not by division, so no Decimal context precision can round it.
    return Decimal((0, tuple(int(d) for d in str(raw)), -decimals))


def _canonical(addresses: Iterable[str]) -> list[str]:
    """Checksummed, without duplicates (any letter case), in the given order."""
    seen: dict[str, str] = {}
    for address in addresses:
        if not isinstance(address, str) or not is_address(address):
            raise ValueError(f"not an EVM address: {address!r}")
        seen.setdefault(address.lower(), str(to_checksum_address(address)))
    return list(seen.values())


def _plans() -> list[_Plan]:
    """Enabled assets grouped by enabled network, networks in configured order.

    The native coin comes first on each network, then tokens by symbol. One query.
    """
    by_network: dict[str, list[Asset]] = {}
    for asset in asset_list().order_by("network", "symbol", "pk"):
        by_network.setdefault(asset.network, []).append(asset)
    plans = []
    for network in network_list():
        assets = sorted(by_network.get(network.name, []), key=lambda a: (not a.is_native,))
        if assets:
            plans.append(_Plan(network, tuple(assets)))
    return plans


def _cache_key(addresses: Sequence[str], plans: Sequence[_Plan]) -> str:
    """One key per set of addresses (order and letter case do not matter) and configuration.

    The networks' RPC URLs and the assets' ids, contracts and decimals are part of the
    key, so changing the configuration never serves balances read under the old one.
    """
    parts = sorted(a.lower() for a in addresses)
    for plan in plans:
        net = plan.network
        parts.append(f"{net.name}|{net.chain_id}|{net.rpc_url}")
        parts.extend(f"{a.pk}|{a.address or ''}|{a.decimals}|{a.symbol}" for a in plan.assets)
    return CACHE_PREFIX + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _balance_of_call(token: str, owner: str) -> dict:
    data = "0x" + BALANCE_OF_SELECTOR + owner.lower().removeprefix("0x").rjust(64, "0")
    return {"to": token, "data": data}


def _request(method: str, params: list) -> dict:
    return {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}


@functools.cache
def _http() -> httpx.Client:
    """One HTTP client per process, shared by the reading threads (httpx clients are
    thread-safe): building a client costs a TLS context, about 30 ms, on every read."""
    return httpx.Client()


def _post_batch(rpc_url: str, batch: list[dict]) -> dict[int, dict]:
    """Send one JSON-RPC batch; answers keyed by request id. Raises ``_NetworkDown``."""
    try:
        timeout = settings.WALLET_BALANCE_RPC_TIMEOUT
        response = _http().post(rpc_url, json=batch, timeout=timeout)
        response.raise_for_status()
        answers = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise _NetworkDown(type(exc).__name__) from exc
    if not isinstance(answers, list):
        # e.g. a node or gateway that refuses batches answers with one error object
        raise _NetworkDown("batch refused")
    return {a["id"]: a for a in answers if isinstance(a, dict) and "id" in a}


def _quantity(answer: dict | None) -> int | None:
    """A JSON-RPC answer's uint256 (hex quantity or 32-byte word); None when it has none."""
    if not answer or "error" in answer or not isinstance(answer.get("result"), str):
        return None
    text = answer["result"]
    if not text.startswith("0x") or len(text) < 3 or len(text) > 66:
        # "0x" alone: an eth_call to an address without code (no token there)
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def _read_network(plan: _Plan, addresses: Sequence[str]) -> list[Balance]:
    """Every (address, asset) row of one network; all ``unavailable`` if the network fails."""
    net = plan.network
    chain_id_request = _request("eth_chainId", [])
    wanted: list[tuple[str, Asset, dict]] = []
    for address in addresses:
        for asset in plan.assets:
            if asset.is_native:
                request = _request("eth_getBalance", [address, "latest"])
            else:
                call = _balance_of_call(str(asset.address), address)
                request = _request("eth_call", [call, "latest"])
            wanted.append((address, asset, request))
    requests = [chain_id_request, *(r for _, _, r in wanted)]
    try:
        answers: dict[int, dict] = {}
        for start in range(0, len(requests), BATCH_MAX):
            answers |= _post_batch(net.rpc_url, requests[start : start + BATCH_MAX])
        if _quantity(answers.get(chain_id_request["id"])) != net.chain_id:
            raise _NetworkDown("wrong or missing chain id")
    except _NetworkDown as exc:
        # The RPC URL may carry an API key: log the network's name only.
        logger.warning(
            "wallet balances unavailable", extra={"network": net.name, "error": str(exc)}
        )
        answers = {}
    rows = []
    for address, asset, request in wanted:
        raw = _quantity(answers.get(request["id"]))
        rows.append(
            Balance(
                address=address,
                network=net.name,
                chain_id=net.chain_id,
                asset_id=asset.pk,
                symbol=asset.symbol,
                decimals=asset.decimals,
                token=asset.address,
                amount=None if raw is None else scaled(raw, asset.decimals),
                status=UNAVAILABLE if raw is None else OK,
            )
        )
    return rows


def _read(plans: Sequence[_Plan], addresses: Sequence[str]) -> list[Balance]:
    """All rows, grouped by address (in ``addresses`` order), then network, then asset."""
    workers = max(1, min(PARALLEL_NETWORKS, len(plans)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="balances") as pool:
        per_network = list(pool.map(lambda plan: _read_network(plan, addresses), plans))
    return _in_order(itertools.chain.from_iterable(per_network), addresses)


def _in_order(rows: Iterable[Balance], addresses: Sequence[str]) -> list[Balance]:
    """Rows grouped by address in ``addresses`` order; the order within one address is kept."""
    position = {a: i for i, a in enumerate(addresses)}
    return sorted(rows, key=lambda row: position[row.address])


def wallet_balances(addresses: list[str]) -> list[Balance]:
    """What each address holds of every enabled asset on every enabled network.

    Rows come grouped by address (in the given order, duplicates removed), then by
    network (configured order), then native coin first and tokens by symbol. An address
    or network without enabled assets has no rows.

    Side effects: JSON-RPC batches to each network with assets (none on a cache hit);
    caches the rows for ``WALLET_BALANCE_CACHE_SECONDS`` under a key per set of addresses.
    One query (the asset registry).
    Never raises for a failing network: its rows have ``status="unavailable"`` and
    ``amount=None``. Raises ``ValueError`` when an item of ``addresses`` is not an EVM address.
    """
    wanted = _canonical(addresses)
    if not wanted:
        return []
    plans = _plans()
    if not plans:
        return []
    seconds = settings.WALLET_BALANCE_CACHE_SECONDS
    key = _cache_key(wanted, plans)
    if seconds > 0:
        cached = cache.get(key)
        if cached is not None:
            return _in_order(cached, wanted)
    rows = _read(plans, wanted)
    if seconds > 0:
        cache.set(key, rows, seconds)
    return rows
