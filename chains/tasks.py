"""Celery tasks of the chains app: thin, idempotent, safe to retry; they take names and ids."""

from __future__ import annotations

import logging

from celery import shared_task

from chains import follower, relayer, selectors, watcher
from chains.interface import ChainUnavailable

logger = logging.getLogger(__name__)

SCAN_BUDGET_SECONDS = 10.0


def _network(name: str):
    network = selectors.network_get(name)
    if network is None:
        logger.warning("task for an unknown or disabled network", extra={"network": name})
    return network


@shared_task(name="chains.scan_all", ignore_result=True)
def scan_all() -> None:
    """Queue one watcher pass per enabled network (beat runs this every few seconds), but
    none for a network the head follower is polling (``chains.follower.following``)."""
    for network in selectors.network_list():
        if not follower.following(network.name):
            scan_network.delay(network.name)


@shared_task(
    name="chains.scan_network",
    ignore_result=True,
    autoretry_for=(ChainUnavailable,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def scan_network(name: str) -> None:
    """Scan `name` until caught up or out of time budget. Idempotent: the cursor is in the DB."""
    network = _network(name)
    if network is not None:
        watcher.network_catch_up(network=network, budget_seconds=SCAN_BUDGET_SECONDS)


@shared_task(
    name="chains.relay_redeem",
    ignore_result=True,
    autoretry_for=(ChainUnavailable,),
    retry_backoff=2,
    max_retries=10,
)
def relay_redeem(network_name: str, lock_id: str, preimage: str) -> None:
    """Redeem one lock with a public preimage (no-op if done or not redeemable)."""
    network = _network(network_name)
    if network is not None:
        relayer.relayer_redeem(network=network, lock_id=lock_id, preimage=preimage)


@shared_task(name="chains.relay_refunds", ignore_result=True)
def relay_refunds() -> None:
    """Refund every live lock whose timelock has passed by its chain's clock; track sent txs."""
    relayer.relayer_sweep()
