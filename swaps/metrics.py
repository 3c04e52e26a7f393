"""Swap metrics, read from the database at scrape time (swaps move in several processes)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import REGISTRY, Collector

# Seconds from the taker's lock to completion.
BUCKETS = [60, 300, 900, 1800, 3600, 7200, 21600, 86400]


class SwapCollector(Collector):
    def collect(self):
        from swaps.selectors import completion_seconds, state_counts

        by_state = GaugeMetricFamily("swaps", "Swaps by state.", labels=["state"])
        try:
            counts = state_counts()
            durations = completion_seconds()
        except Exception:  # a scrape must not fail because the database is down
            counts, durations = {}, []
        for state, count in sorted(counts.items()):
            by_state.add_metric([state], count)
        refunds = GaugeMetricFamily("swaps_refunded", "Swaps that ended in refunds.")
        refunds.add_metric([], counts.get("refunded", 0))
        flags = GaugeMetricFamily("swaps_flagged", "Swaps flagged for a lock off the terms.")
        flags.add_metric([], counts.get("flagged", 0))
        buckets, total = [], 0.0
        for bound in BUCKETS:
            buckets.append((str(bound), sum(1 for d in durations if d <= bound)))
        buckets.append(("+Inf", len(durations)))
        total = float(sum(durations))
        histogram = HistogramMetricFamily(
            "swap_taker_lock_to_completion_seconds",
            "Time from the taker's confirmed lock to completion.",
            buckets=buckets,
            sum_value=total,
        )
        yield from (by_state, refunds, flags, histogram)

    def describe(self):
        return []


def register() -> None:
    """Register once per process (AppConfig.ready)."""
    if not getattr(register, "done", False):
        REGISTRY.register(SwapCollector())
        register.done = True  # type: ignore[attr-defined]
