"""Per-network watcher metrics, read from the database at scrape time.

The watcher runs in Celery workers; the web process serves /metrics. Reading the
cursors when Prometheus scrapes keeps the figures right whichever process scanned.
"""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector


class ChainCollector(Collector):
    def collect(self):
        from chains.selectors import cursor_list

        head = GaugeMetricFamily(
            "chain_head_block", "Chain head seen by the watcher.", labels=["network"]
        )
        cursor = GaugeMetricFamily(
            "chain_cursor_block", "Last block the watcher processed.", labels=["network"]
        )
        lag = GaugeMetricFamily("chain_lag_blocks", "Head minus cursor.", labels=["network"])
        failures = GaugeMetricFamily(
            "chain_rpc_consecutive_failures", "Failed watcher passes in a row.", labels=["network"]
        )
        try:
            cursors = cursor_list()
        except Exception:  # a scrape must not fail because the database is down
            cursors = []
        for c in cursors:
            head.add_metric([c.network], c.head_block)
            cursor.add_metric([c.network], c.last_block)
            lag.add_metric([c.network], max(c.head_block - c.last_block, 0))
            failures.add_metric([c.network], c.consecutive_failures)
        yield from (head, cursor, lag, failures)

    def describe(self):
        return []


def register() -> None:
    """Register once per process (AppConfig.ready)."""
    if not getattr(register, "done", False):
        REGISTRY.register(ChainCollector())
        register.done = True  # type: ignore[attr-defined]
