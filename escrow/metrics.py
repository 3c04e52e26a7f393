"""Escrow metrics, read from the database at scrape time (orders move in several processes)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector


class EscrowCollector(Collector):
    def collect(self):
        from django.db.models import Count, Q

        from escrow.selectors import order_state_counts, orders_release_overdue

        by_state = GaugeMetricFamily("escrow_orders", "Escrow orders by state.", labels=["state"])
        overdue = GaugeMetricFamily(
            "escrow_releases_overdue",
            "Held orders past their release time by ESCROW_RELEASE_OVERDUE_SECONDS: the "
            "automatic release not sent (sent=no) or sent and not confirmed (sent=yes).",
            labels=["sent"],
        )
        try:
            counts = order_state_counts()
            late = orders_release_overdue().aggregate(
                no=Count("pk", filter=Q(release_sent_tx="")),
                yes=Count("pk", filter=~Q(release_sent_tx="")),
            )
        except Exception:  # a scrape must not fail because the database is down
            counts, late = {}, {"no": 0, "yes": 0}
        for state, count in sorted(counts.items()):
            by_state.add_metric([state], count)
        overdue.add_metric(["no"], late["no"])
        overdue.add_metric(["yes"], late["yes"])
        yield from (by_state, overdue)

    def describe(self):
        return []


def register() -> None:
    """Register once per process (AppConfig.ready)."""
    if not getattr(register, "done", False):
        REGISTRY.register(EscrowCollector())
        register.done = True  # type: ignore[attr-defined]
