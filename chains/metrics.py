"""Per-network watcher metrics, read from shared state at scrape time.

The watcher runs in Celery workers; the web process serves /metrics. So nothing here is
counted in process memory: the cursors come from the database, and the skipped-scan
counter lives in the shared cache (Redis in production; the file cache elsewhere, whose
increments can race and lose a count), both read when Prometheus scrapes. The counter
starts over from zero when Redis does, which Prometheus' ``rate()`` reads as a reset.

``chain_lag_blocks`` is the head as the watcher last read it minus its cursor. Every batch
writes the head it reads before doing anything else, so a failing batch still refreshes
it. When nobody has read the head for longer than a scan lease (RPC down, circuit open, no
worker running), the lag adds the blocks the network makes in that time
(``block_time``), so a stuck watcher shows a growing lag rather than its last one;
``chain_head_age_seconds`` says how old the reading is.
"""

from __future__ import annotations

import logging
import time

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger(__name__)

SKIP_REASONS = ("busy", "circuit_open", "aborted")


def _skip_key(network: str, reason: str) -> str:
    return f"chains:scan-skipped:{network}:{reason}"


def scan_skipped(*, network: str, reason: str) -> None:
    """Count one scan of `network` that did not run (one of ``SKIP_REASONS``).

    Side effects: increments a key in the default cache. Never raises: a cache outage
    loses the count, not the scan."""
    from django.core.cache import cache

    key = _skip_key(network, reason)
    try:
        if not cache.add(key, 1, timeout=None):
            cache.incr(key)
    except Exception:
        logger.warning("chain scan skip not counted", extra={"network": network}, exc_info=True)


def _skips(networks: list[str]) -> dict[tuple[str, str], int]:
    from django.core.cache import cache

    keys = {_skip_key(n, r): (n, r) for n in networks for r in SKIP_REASONS}
    try:
        found = cache.get_many(list(keys))
    except Exception:  # a scrape must not fail because the cache is down
        return {}
    return {keys[k]: int(v) for k, v in found.items()}


class ChainCollector(Collector):
    def collect(self):
        from django.conf import settings
        from django.utils import timezone

        from chains.selectors import cursor_list, network_list

        head = GaugeMetricFamily(
            "chain_head_block", "Chain head seen by the watcher.", labels=["network"]
        )
        head_age = GaugeMetricFamily(
            "chain_head_age_seconds",
            "Seconds since the watcher last read the chain head.",
            labels=["network"],
        )
        cursor = GaugeMetricFamily(
            "chain_cursor_block", "Last block the watcher processed.", labels=["network"]
        )
        lag = GaugeMetricFamily(
            "chain_lag_blocks",
            "Head minus cursor; a head unread for over a lease adds the blocks made since.",
            labels=["network"],
        )
        failures = GaugeMetricFamily(
            "chain_rpc_consecutive_failures", "Failed watcher passes in a row.", labels=["network"]
        )
        circuit = GaugeMetricFamily(
            "chain_circuit_open",
            "1 while the watcher's RPC circuit breaker for the network is open.",
            labels=["network"],
        )
        skipped = CounterMetricFamily(
            "chain_scan_skipped",
            "Watcher scans that did not run: busy (another worker holds the lease), "
            "circuit_open, aborted (lease lost or chain changed mid-batch).",
            labels=["network", "reason"],
        )
        try:
            cursors = cursor_list()
            block_times = {n.name: n.block_time for n in network_list()}
        except Exception:  # a scrape must not fail because the database is down
            cursors, block_times = [], {}
        now = timezone.now()
        stale_after = float(settings.CHAIN_SCAN_LEASE_SECONDS)
        for c in cursors:
            age = max((now - c.updated_at).total_seconds(), 0.0)
            seen = c.head_block
            block_time = block_times.get(c.network, 0)
            if seen >= 0 and age > stale_after and block_time > 0:
                seen += int(age // block_time)
            head.add_metric([c.network], c.head_block)
            head_age.add_metric([c.network], age)
            cursor.add_metric([c.network], c.last_block)
            lag.add_metric([c.network], max(seen - c.last_block, 0))
            failures.add_metric([c.network], c.consecutive_failures)
            is_open = c.circuit_open_until is not None and c.circuit_open_until > now
            circuit.add_metric([c.network], 1 if is_open else 0)
        for (network, reason), count in sorted(_skips([c.network for c in cursors]).items()):
            skipped.add_metric([network, reason], count)
        yield from (head, head_age, cursor, lag, failures, circuit, skipped)

    def describe(self):
        return []


class RelayerCollector(Collector):
    """The relayer's hot wallet and its unfinished transactions, per network.

    ``relayer_balance_ether`` is the balance the last relayer pass read (kept in the cache
    by ``chains.relayer.relayer_balance_record``) and ``relayer_balance_age_seconds`` how
    old that reading is; ``relayer_balance_min_ether`` is ``RELAYER_MIN_BALANCE_ETH``, so
    the alert rule compares two series and the threshold stays a setting.
    ``relayer_txs{status}`` counts transactions signed but not yet broadcast (``signed``)
    and broadcast but not mined (``pending``); ``relayer_tx_oldest_seconds`` is the age of
    the oldest of them."""

    def collect(self):
        from django.conf import settings
        from django.db.models import Count, Min
        from django.utils import timezone

        from chains.models import RelayerTx
        from chains.relayer import relayer_balances
        from chains.selectors import network_list

        balance = GaugeMetricFamily(
            "relayer_balance_ether",
            "Relayer hot-wallet balance at the last relayer pass.",
            labels=["network", "address"],
        )
        balance_age = GaugeMetricFamily(
            "relayer_balance_age_seconds",
            "Seconds since the relayer last read its balance.",
            labels=["network"],
        )
        minimum = GaugeMetricFamily(
            "relayer_balance_min_ether",
            "RELAYER_MIN_BALANCE_ETH: below it the relayer wallet needs topping up.",
            labels=["network"],
        )
        txs = GaugeMetricFamily(
            "relayer_txs",
            "Relayer transactions not mined yet: signed (not broadcast) and pending.",
            labels=["network", "status"],
        )
        oldest = GaugeMetricFamily(
            "relayer_tx_oldest_seconds",
            "Age of the oldest signed or pending relayer transaction (0: none).",
            labels=["network"],
        )
        threshold = float(settings.RELAYER_MIN_BALANCE_ETH)
        now = timezone.now()
        try:
            networks = [n.name for n in network_list()]
            open_txs = RelayerTx.objects.filter(
                status__in=[RelayerTx.Status.SIGNED, RelayerTx.Status.PENDING]
            )
            counts = {
                (row["network"], row["status"]): row["n"]
                for row in open_txs.values("network", "status").annotate(n=Count("id"))
            }
            first = {
                row["network"]: row["first"]
                for row in open_txs.values("network").annotate(first=Min("created_at"))
            }
        except Exception:  # a scrape must not fail because the database is down
            networks, counts, first = [], {}, {}
        try:
            balances = relayer_balances(networks)
        except Exception:  # nor because the cache is
            balances = {}
        for network in networks:
            minimum.add_metric([network], threshold)
            for status in (RelayerTx.Status.SIGNED, RelayerTx.Status.PENDING):
                txs.add_metric([network, str(status)], counts.get((network, status), 0))
            started = first.get(network)
            oldest.add_metric([network], (now - started).total_seconds() if started else 0.0)
            seen = balances.get(network)
            if seen:
                balance.add_metric([network, seen["address"]], int(seen["wei"]) / 10**18)
                balance_age.add_metric([network], max(time.time() - float(seen["at"]), 0.0))
        yield from (balance, balance_age, minimum, txs, oldest)

    def describe(self):
        return []


def register() -> None:
    """Register once per process (AppConfig.ready)."""
    if not getattr(register, "done", False):
        REGISTRY.register(ChainCollector())
        REGISTRY.register(RelayerCollector())
        register.done = True  # type: ignore[attr-defined]
