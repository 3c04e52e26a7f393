"""Wallet balances per configured asset: the native coin and each ERC-20 token.

Every enabled asset on every enabled network is read for every address, with plain
JSON-RPC batches (``eth_getBalance`` and ``balanceOf`` through ``eth_call``): one HTTP
request per network for a handful of wallets, networks in parallel, each with a short
timeout (``WALLET_BALANCE_RPC_TIMEOUT``). A network that cannot answer gives its rows
``status="unavailable"``; it never raises. Results are cached for
``WALLET_BALANCE_CACHE_SECONDS`` per set of addresses (and per asset configuration).

Callers get :class:`Balance` frozen dataclasses with ``Decimal`` amounts scaled by the
asset's ``decimals``; no web3 object leaves this module.

ICP: :func:`principal_balances` gives the same rows for Internet Computer principals,
one per ICRC-1 token in ``ICP_TOKENS`` (ICP itself by default), read with the ledger's
``icrc1_balance_of`` through ``chains.icp``, whose answers are verified (query node
signatures against the subnet's certified node keys, see ``docs/icp.md``). Rows of a
ledger that cannot be reached or whose answer does not verify are ``unavailable``.
Cached like the EVM rows.
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

from chains import icp
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
ICP_CACHE_PREFIX = "chains:balances:icp:v1:"
# Rows of the Internet Computer: its network name, and the chain id / asset id they
# carry (the IC has no EVM chain id; ICP tokens are configured in ICP_TOKENS, not in
# the asset registry, whose ids start at 1).
ICP_NETWORK = "icp"
ICP_CHAIN_ID = 0
ICP_ASSET_ID = 0

_ids = itertools.count(1)


@dataclass(frozen=True)
class Balance:
    """What ``address`` holds of one asset, or ``amount=None`` when the network is unavailable.

    ``amount`` is exact: the base units scaled by ``decimals``, with exactly ``decimals``
    digits after the point (``Decimal("1.500000")`` for 1.5 of a 6-decimal token).
    """

    address: str  # EIP-55 checksummed; on ICP the principal's canonical text
    network: str  # ICP_NETWORK for ICP rows
    chain_id: int  # ICP_CHAIN_ID (0) for ICP rows
    asset_id: int  # ICP_ASSET_ID (0) for ICP rows
    symbol: str
    decimals: int
    token: str | None  # the ERC-20 contract (None for the native coin); on ICP the ledger
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


# --------------------------------------------------------------------------- ICP


@dataclass(frozen=True)
class IcpToken:
    """An ICRC-1 token whose balances are read: its ledger canister and decimals."""

    symbol: str
    ledger: str
    decimals: int


def icp_tokens() -> tuple[IcpToken, ...]:
    """The tokens of ``ICP_TOKENS`` (default: ICP on its ledger, 8 decimals), validated.

    Raises ``ValueError`` for an entry without a symbol, with an invalid ledger
    canister id or with decimals outside 0..36.
    """
    entries = settings.ICP_TOKENS
    tokens = []
    for entry in entries:
        symbol, ledger, decimals = entry.get("symbol"), entry.get("ledger"), entry.get("decimals")
        if not isinstance(symbol, str) or not symbol:
            raise ValueError(f"ICP_TOKENS entry without a symbol: {entry!r}")
        if not isinstance(ledger, str) or not icp.principal_is_valid(ledger):
            raise ValueError(f"ICP_TOKENS {symbol}: not a ledger canister id: {ledger!r}")
        if not isinstance(decimals, int) or not 0 <= decimals <= 36:
            raise ValueError(f"ICP_TOKENS {symbol}: decimals must be 0..36, got {decimals!r}")
        tokens.append(IcpToken(symbol, ledger.lower(), decimals))
    return tuple(tokens)


def _icp_host() -> str:
    return str(settings.ICP_HOST)


@functools.lru_cache(maxsize=4)
def _icp_client(host: str, root_key: bytes, max_age: float, timeout: float) -> icp.IcpClient:
    """One client per process and configuration: it keeps the subnets' certified node
    keys between reads (a read_state saved per query) and its connection pool."""
    return icp.IcpClient(host=host, root_key=root_key, certificate_max_age=max_age, timeout=timeout)


def _canonical_principals(principals: Iterable[str]) -> list[str]:
    """Lower-case canonical text, without duplicates, in the given order."""
    seen: dict[str, None] = {}
    for principal in principals:
        if not isinstance(principal, str) or not icp.principal_is_valid(principal):
            raise ValueError(f"not an ICP principal: {principal!r}")
        seen.setdefault(principal.lower(), None)
    return list(seen)


def _icp_cache_key(principals: Sequence[str], tokens: Sequence[IcpToken], host: str) -> str:
    """One key per set of principals, host, root key and token configuration."""
    parts = sorted(principals)
    parts.append(f"{host}|{icp.certificate.configured_root_key().hex()}")
    parts.extend(f"{t.symbol}|{t.ledger}|{t.decimals}" for t in tokens)
    return ICP_CACHE_PREFIX + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _icp_row(principal: str, token: IcpToken, raw: int | None) -> Balance:
    return Balance(
        address=principal,
        network=ICP_NETWORK,
        chain_id=ICP_CHAIN_ID,
        asset_id=ICP_ASSET_ID,
        symbol=token.symbol,
        decimals=token.decimals,
        token=token.ledger,
        amount=None if raw is None else scaled(raw, token.decimals),
        status=UNAVAILABLE if raw is None else OK,
    )


def _read_icp_token(
    client: icp.IcpClient, token: IcpToken, principals: Sequence[str], pool: ThreadPoolExecutor
) -> list[Balance]:
    """Every principal's row of one token; the first read alone, so that a ledger (or
    an IC) that cannot be reached costs one timeout, not one per principal."""

    def read(principal: str) -> int | None:
        try:
            return client.icrc1_balance_of(owner=principal, ledger_canister_id=token.ledger)
        except icp.IcpCertificateError as exc:
            # A forged or replayed answer: worth an error, not just a warning.
            logger.error("icp balance refused", extra={"ledger": token.ledger, "error": str(exc)})
            return None
        except icp.IcpError as exc:
            logger.warning(
                "icp balance unavailable", extra={"ledger": token.ledger, "error": str(exc)}
            )
            return None

    first = read(principals[0])
    if first is None:
        return [_icp_row(p, token, None) for p in principals]
    rest = list(pool.map(read, principals[1:]))
    return [_icp_row(p, token, raw) for p, raw in zip(principals, [first, *rest], strict=True)]


def principal_balances(principals: list[str]) -> list[Balance]:
    """What each ICP principal holds of every token in ``ICP_TOKENS``.

    Rows come grouped by principal (given order, duplicates and letter case removed),
    then tokens in configured order; ``amount`` is the ledger's base units scaled by
    the token's decimals (e8s for ICP), ``token`` the ledger canister id, ``network``
    ``ICP_NETWORK``, ``chain_id``/``asset_id`` 0. Every amount comes from a verified
    answer (``chains.icp``: node signatures checked against certified node keys).

    Side effects: queries to ``ICP_HOST`` (none on a cache hit), through one client per
    process and configuration, each HTTP request bounded by ``WALLET_BALANCE_RPC_TIMEOUT``;
    caches the rows for ``WALLET_BALANCE_CACHE_SECONDS`` per set of principals. No query
    to the database.
    Never raises for the IC: rows of a ledger that cannot be reached, rejects the call
    or answers something that does not verify are ``status="unavailable"``, ``amount=None``.
    Raises ``ValueError`` for an invalid principal or ``ICP_TOKENS`` / ``ICP_ROOT_KEY``
    setting.
    """
    wanted = _canonical_principals(principals)
    tokens = icp_tokens()
    if not wanted or not tokens:
        return []
    host = _icp_host()
    seconds = settings.WALLET_BALANCE_CACHE_SECONDS
    key = _icp_cache_key(wanted, tokens, host)
    if seconds > 0:
        cached = cache.get(key)
        if cached is not None:
            return _in_order(cached, wanted)
    client = _icp_client(
        host,
        icp.certificate.configured_root_key(),
        icp.certificate.configured_max_age(),
        float(settings.WALLET_BALANCE_RPC_TIMEOUT),
    )
    workers = max(1, min(PARALLEL_NETWORKS, len(wanted)))
    # Tokens side by side (a ledger that hangs costs one timeout for all), principals
    # of each token on a shared pool that never waits on anything itself.
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="icp-balances") as pool,
        ThreadPoolExecutor(max_workers=len(tokens), thread_name_prefix="icp-tokens") as outer,
    ):
        per_token = list(outer.map(lambda t: _read_icp_token(client, t, wanted, pool), tokens))
    rows = _in_order(itertools.chain.from_iterable(per_token), wanted)
    if seconds > 0:
        cache.set(key, rows, seconds)
    return rows
