"""Plain JSON-RPC over HTTP, for probes that must not depend on web3's connection state."""

from __future__ import annotations

import itertools

import httpx
from django.conf import settings

from chains.interface import ChainUnavailable

_ids = itertools.count(1)


class RpcError(ChainUnavailable):
    """The node answered with an error or something that is not JSON-RPC."""


def call(rpc_url: str, method: str, params: list | None = None, *, timeout: float | None = None):
    """POST one JSON-RPC request and return its ``result``.

    Raises ``ChainUnavailable`` on transport failures and its ``RpcError`` on a JSON-RPC
    error object or a malformed answer.
    """
    payload = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or []}
    try:
        response = httpx.post(rpc_url, json=payload, timeout=timeout or settings.CHAIN_RPC_TIMEOUT)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainUnavailable(f"{method}: {type(exc).__name__}: {exc}") from exc
    if "error" in body:
        raise RpcError(str(body["error"].get("message", body["error"])))
    if "result" not in body:
        raise RpcError("no result in JSON-RPC answer")
    return body["result"]
