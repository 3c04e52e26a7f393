"""Reads other apps may use. Plain dataclasses out; no web3 objects cross this line."""

from __future__ import annotations

from chains import rpc
from chains.networks import Network, configured_networks


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
