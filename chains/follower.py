"""The head follower: scans a network the moment one of its blocks is confirmed.

Beat's pass (``chains.scan_all`` every ``CHAIN_SCAN_INTERVAL``) finds a confirmed block 0 to
that interval late, and then the scan waits for a slot on a chain worker. The follower is one
long-lived process (``manage.py follow_chains``: a program of ``make run``, ``make prod`` and
the systemd units) with one thread per enabled network. Each thread reads its network's head
(``eth_blockNumber``) every poll interval and, when the head has moved (a new block may be
confirmed) or its last scan left work behind, runs ``watcher.network_catch_up`` at once.

It adds no guarantee and removes none: the scan is the watcher's own, under the network's
scan lease, so the follower and beat's passes never scan one network at once. Beat's passes
leave a network alone while its follower polls it (``following``): a pass only took the
lease from under the follower, which then waited for it (a worker's pass of one block held
it 2.9 s under load, and a confirmed secret reached its swap three blocks late). Each
successful poll says so in the cache for ``alive_seconds``; a follower that stops polling
(stopped, killed, stuck, or failing) is no longer fresh after that, and beat's passes scan
the network again. The one refused by the lease tries again at its next poll. An RPC or
database failure is logged and retried after a back-off that doubles up to
``MAX_BACKOFF_SECONDS``; the thread never dies of it.

The relayer's redeems that its scans reveal (a secret confirmed on one chain, the sibling lock
on another) are sent from this process too, right after the batch commits, by a
``RedeemSender`` on two threads of its own, instead of waiting in the queue for a chain
worker busy with other work. A send that fails goes to the queue (``chains.relay_redeem``,
which retries with back-off); one lost with the process is queued again by
``swaps.reconcile``; the relayer sends a lock's redeem once however often it is asked.

The poll interval is ``CHAIN_FOLLOW_POLL_SECONDS`` when set, else a tenth of the network's
block time (at least 0.1 s): one ``eth_blockNumber`` per poll, so ten per block.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection

from chains import relayer, rpc, selectors, watcher
from chains.interface import ChainUnavailable
from chains.networks import Network
from core.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

MIN_POLL_SECONDS = 0.1
# A follower polling a network keeps beat's passes off it for this long after each successful
# poll (at least; five polls when they are slower).
MIN_ALIVE_SECONDS = 3.0
MAX_BACKOFF_SECONDS = 10.0
# Seconds one catch-up may run before the thread reads the head again (each batch renews
# the lease, so a long catch-up holds the network no longer than needed).
CATCH_UP_BUDGET_SECONDS = 10.0
# Statuses after which the scan is done until the head moves again.
_SETTLED = {"scanned", "idle"}


def poll_seconds(network: Network) -> float:
    """How often the follower reads `network`'s head."""
    configured = float(settings.CHAIN_FOLLOW_POLL_SECONDS)
    if configured > 0:
        return configured
    return max(MIN_POLL_SECONDS, network.block_time / 10)


def alive_seconds(network: Network) -> float:
    """How long one successful poll keeps beat's passes off `network`."""
    return max(MIN_ALIVE_SECONDS, 5 * poll_seconds(network))


def _alive_key(network_name: str) -> str:
    return f"chains:follower:{network_name}"


def following(network_name: str) -> bool:
    """Whether a follower polled `network_name` successfully within its ``alive_seconds``;
    False when the cache cannot say (then beat's pass scans, as it did before followers)."""
    try:
        return cache.get(_alive_key(network_name)) is not None
    except Exception:  # the cache's own errors (Redis down): scanning is the safe side
        logger.warning("follower state unreadable", extra={"network": network_name})
        return False


def head_read(network: Network) -> int:
    """The network's newest block number. Raises ``ChainUnavailable``."""
    return int(rpc.call(network.rpc_url, "eth_blockNumber"), 16)


@dataclass
class NetworkFollower:
    """Follows one network: `step` is one poll, `run` polls until `stop` is set."""

    network: Network
    stop: threading.Event
    last_head: int | None = None
    pending: bool = True  # scan at the first poll: blocks may have been confirmed while down
    failures: int = 0
    scans: int = 0  # catch-ups run
    thread: threading.Thread | None = None
    fresh_until: float = 0.0  # monotonic: when the cache's word that it follows runs out

    def keep_alive(self) -> None:
        """Say in the cache that this network is followed, when half of what was said is
        spent (a cache write every few polls, not every poll)."""
        seconds = alive_seconds(self.network)
        now = time.monotonic()
        if now >= self.fresh_until - seconds / 2:
            try:
                cache.set(_alive_key(self.network.name), True, timeout=seconds)
            except Exception:  # the cache down must not slow the scans: beat's passes resume
                logger.warning("follower state unwritable", extra={"network": self.network.name})
                return
            self.fresh_until = now + seconds

    def start(self) -> None:
        """Run in a daemon thread of its own."""
        self.thread = threading.Thread(
            target=self.run, name=f"follow-{self.network.name}", daemon=True
        )
        self.thread.start()

    def step(self) -> None:
        """Read the head; catch up when it moved or the last catch-up left work behind.

        Raises ``ChainUnavailable`` and database errors (``run`` backs off and goes on)."""
        head = head_read(self.network)
        if head != self.last_head:
            self.last_head, self.pending = head, True
        if not self.pending:
            return
        close_old_connections()  # a connection the database dropped (restart, failover)
        result = watcher.network_catch_up(
            network=self.network, budget_seconds=CATCH_UP_BUDGET_SECONDS
        )
        self.scans += 1
        if result.status == "circuit_open":  # beat's passes opened it: back off like them
            raise ChainUnavailable(f"{self.network.name}: circuit open")
        confirmed = (result.head or 0) - self.network.confirmations + 1
        behind = result.to_block is not None and result.to_block < confirmed
        # busy (beat's pass holds the lease), rolled back, reset, aborted or out of budget:
        # go again at the next poll, whether or not the head moves.
        self.pending = result.status not in _SETTLED or behind
        if result.stored or result.orphaned:
            logger.info(
                "follower scanned",
                extra={
                    "network": self.network.name,
                    "status": result.status,
                    "to_block": result.to_block,
                    "stored": result.stored,
                    "orphaned": result.orphaned,
                },
            )

    def run(self) -> None:
        interval = poll_seconds(self.network)
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                    self.keep_alive()
                    self.failures = 0
                    wait = interval
                except Exception as exc:  # RPC or database: log, back off, go on
                    self.failures += 1
                    wait = min(interval * 2**self.failures, MAX_BACKOFF_SECONDS)
                    log = logger.warning if isinstance(exc, ChainUnavailable) else logger.exception
                    log(
                        "follower step failed",
                        extra={
                            "network": self.network.name,
                            "error": f"{type(exc).__name__}: {exc}",
                            "failures": self.failures,
                            "retry_in": wait,
                        },
                    )
                self.stop.wait(wait)
        finally:
            connection.close()


def follow(networks: list[Network], stop: threading.Event) -> list[NetworkFollower]:
    """Follow each of `networks` in a thread of its own until `stop` is set."""
    followers = [NetworkFollower(network=network, stop=stop) for network in networks]
    for follower in followers:
        follower.start()
    return followers


class RedeemSender:
    """Sends relayer redeems on threads of its own (``relayer.redeem_sender_set``)."""

    def __init__(self, threads: int = 2):
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="relay")

    def __call__(self, network: str, lock_id: str, preimage: str) -> None:
        self.pool.submit(self.send, network, lock_id, preimage)

    def send(self, network: str, lock_id: str, preimage: str) -> None:
        """Redeem now; on any failure hand it to the queue, whose task retries."""
        close_old_connections()
        try:
            found = selectors.network_get(network)
            if found is not None:
                relayer.relayer_redeem(network=found, lock_id=lock_id, preimage=preimage)
        except Exception as exc:
            logger.warning(
                "follower's redeem failed; queued",
                extra={
                    "network": network,
                    "lock_id": lock_id,
                    "error": f"{type(exc).__name__}: {exc}",
                },
            )
            enqueue_on_commit("chains.relay_redeem", network, lock_id, preimage)

    def close(self) -> None:
        """Finish the sends under way, then stop the threads."""
        self.pool.shutdown(wait=True)
