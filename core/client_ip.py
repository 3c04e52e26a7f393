"""The client's IP address: the one answer every throttle, audit row, lockout and /metrics uses.

A forwarded header is trusted only as far as the deployment says (``TRUSTED_PROXY_NETWORKS``
or ``TRUSTED_PROXY_COUNT``); by default none is, and the peer address is the client. The
ASGI server must not rewrite the peer address itself (uvicorn runs with
``--no-proxy-headers``), or a forged ``X-Forwarded-For`` from a local process would pass.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _clean(value: str | None) -> str | None:
    """``value`` as a canonical IP address string, or None when it is not one."""
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # "[::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "1.2.3.4:5678"
        text = text.split(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in spec if item.strip())


def _trusted(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest | None) -> str | None:
    """The address of whoever sent ``request``, after the proxies this deployment trusts.

    - ``TRUSTED_PROXY_NETWORKS`` set: ``X-Forwarded-For`` is read from the right while the
      hop that wrote it is inside those networks; the first other address is the client.
      A peer outside them is the client, whatever header it sent.
    - else ``TRUSTED_PROXY_COUNT`` = n > 0: the n-th address from the right of
      ``X-Forwarded-For`` (what the outermost of our n proxies saw).
    - else: the peer address (``REMOTE_ADDR``); no header is trusted.

    Returns None only without a request or a usable peer address. Raises nothing.
    """
    if request is None:
        return None
    peer = _clean(request.META.get("REMOTE_ADDR"))
    forwarded = [
        part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    networks = _networks(tuple(settings.TRUSTED_PROXY_NETWORKS))
    if networks:
        if peer is None or not _trusted(peer, networks):
            return peer
        current = peer
        for hop in reversed(forwarded):
            address = _clean(hop)
            if address is None:
                return current  # garbage from beyond our proxies: stop at the last good hop
            current = address
            if not _trusted(address, networks):
                return address
        return current
    count = int(settings.TRUSTED_PROXY_COUNT)
    if count > 0 and forwarded:
        return _clean(forwarded[-min(count, len(forwarded))]) or peer
    return peer
