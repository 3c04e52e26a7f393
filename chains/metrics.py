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
        for (network, reason), count in sorted(_skips([c.network for c in cursors]).items()):
            skipped.add_metric([network, reason], count)
        yield from (head, head_age, cursor, lag, failures, skipped)

    def describe(self):
        return []


def register() -> None:
    """Register once per process (AppConfig.ready)."""
    if not getattr(register, "done", False):
        REGISTRY.register(ChainCollector())
        register.done = True  # type: ignore[attr-defined]
