"""Plain JSON-RPC over HTTP, for probes that must not depend on web3's connection state."""

from __future__ import annotations

import itertools

import httpx
from django.conf import settings

_ids = itertools.count(1)


class RpcError(Exception):
    """The node answered with an error or something that is not JSON-RPC."""


def call(rpc_url: str, method: str, params: list | None = None, *, timeout: float | None = None):
    """POST one JSON-RPC request and return its ``result``.

    Raises ``httpx.HTTPError`` on transport failures and ``RpcError`` on a
    JSON-RPC error object or a malformed answer.
    """
    payload = {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or []}
    response = httpx.post(rpc_url, json=payload, timeout=timeout or settings.CHAIN_RPC_TIMEOUT)
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        raise RpcError(str(body["error"].get("message", body["error"])))
    if "result" not in body:
        raise RpcError("no result in JSON-RPC answer")
    return body["result"]
