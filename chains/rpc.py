"""Plain JSON-RPC over HTTP: for probes that must not depend on web3's connection state, and
for the watcher's reads, which send many calls in one batch request and decode the answers
themselves (web3's per-call formatting costs more than the node's work)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

import httpx
from django.conf import settings

from chains.interface import ChainUnavailable

_ids = itertools.count(1)


class RpcError(ChainUnavailable):
    """The node answered with an error or something that is not JSON-RPC."""


@functools.cache
def _http() -> httpx.Client:
    """One client (connection pool) per process, shared by threads (httpx clients are
    thread-safe): a new client per call costs a TLS context and a new connection."""
    return httpx.Client()


def _post(rpc_url: str, payload: Any, what: str, timeout: float | None) -> Any:
    try:
        response = _http().post(
            rpc_url, json=payload, timeout=timeout or settings.CHAIN_RPC_TIMEOUT
        )
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc


def _request(method: str, params: list | None) -> dict:
    return {"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params or []}


def _result(answer: Any, method: str) -> Any:
    if not isinstance(answer, dict):
        raise RpcError(f"{method}: not a JSON-RPC answer")
    if "error" in answer:
        error = answer["error"]
        raise RpcError(
            f"{method}: {error.get('message', error) if isinstance(error, dict) else error}"
        )
    if "result" not in answer:
        raise RpcError(f"{method}: no result in JSON-RPC answer")
    return answer["result"]


def call(rpc_url: str, method: str, params: list | None = None, *, timeout: float | None = None):
    """POST one JSON-RPC request and return its ``result``.

    Raises ``ChainUnavailable`` on transport failures and its ``RpcError`` on a JSON-RPC
    error object or a malformed answer.
    """
    return _result(_post(rpc_url, _request(method, params), method, timeout), method)


def batch_call(
    rpc_url: str, calls: Sequence[tuple[str, list]], *, timeout: float | None = None
) -> list[Any]:
    """Send `calls` ((method, params) pairs) as JSON-RPC batch requests and return their
    ``result``s in the same order (``None`` where the node answers null, e.g. a block it
    does not have).

    At most ``CHAIN_RPC_BATCH_MAX`` calls go in one HTTP request (providers cap batch
    sizes); a longer list is sent as several requests, one after the other. `timeout`
    applies to each request.

    Raises ``ChainUnavailable`` on transport failures, and ``RpcError`` if the node refuses
    the batch, leaves a call unanswered or answers any call with an error: the caller gets
    every result or none.
    """
    limit = max(1, settings.CHAIN_RPC_BATCH_MAX)
    results: list[Any] = []
    for start in range(0, len(calls), limit):
        chunk = calls[start : start + limit]
        requests = [_request(method, params) for method, params in chunk]
        what = f"batch of {len(chunk)} ({chunk[0][0]}…)"
        answers = _post(rpc_url, requests, what, timeout)
        if not isinstance(answers, list):  # a node or gateway that refuses batches
            raise RpcError(f"{what}: batch refused: {str(answers)[:200]}")
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        for request in requests:
            answer = by_id.get(request["id"])
            if answer is None:
                raise RpcError(f"{request['method']}: no answer in the batch")
            results.append(_result(answer, request["method"]))
    return results
