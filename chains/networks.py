"""The network registry: networks are data (settings and environment), never code branches."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Network:
    name: str
    chain_id: int
    rpc_url: str
    public_rpc_url: str
    confirmations: int
    block_time: int
    explorer_url: str
    native_symbol: str


def configured_networks() -> list[Network]:
    """Enabled networks from ``settings.CHAIN_NETWORKS``, in their configured order."""
    return [
        Network(
            name=n["name"],
            chain_id=int(n["chain_id"]),
            rpc_url=n["rpc_url"],
            public_rpc_url=n.get("public_rpc_url", ""),
            confirmations=int(n["confirmations"]),
            block_time=int(n["block_time"]),
            explorer_url=n.get("explorer_url", ""),
            native_symbol=n.get("native_symbol", "ETH"),
        )
        for n in settings.CHAIN_NETWORKS
        if n.get("enabled", True) and n.get("rpc_url")
    ]
