"""The chains' readiness checks; `ChainsConfig.ready()` registers them with /health/ready."""

from __future__ import annotations

from functools import partial

from django.conf import settings

from chains import selectors
from core.health import Check, register_checks


def readiness_checks() -> list[Check]:
    """``chain:<name>`` (the RPC answers for the configured chain id) and ``watcher:<name>``
    (the watcher's cursor is not failing) for each enabled network, in configured order.

    Required only when ``HEALTH_CHAINS_REQUIRED`` is on, read at each call.
    """
    required = settings.HEALTH_CHAINS_REQUIRED
    result = []
    for network in selectors.network_list():
        result.append(
            Check(f"chain:{network.name}", partial(selectors.network_probe, network), required)
        )
        result.append(
            Check(f"watcher:{network.name}", partial(selectors.watcher_probe, network), required)
        )
    return result


def register() -> None:
    register_checks("chains", readiness_checks)
