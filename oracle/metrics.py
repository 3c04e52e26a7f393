"""Oracle metrics read at scrape time (refresh rounds run in the worker, /metrics in the web)."""

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector


class OracleCollector(Collector):
    def collect(self):
        from django.db.models import Count

        from oracle import selectors
        from oracle.models import OracleAlert

        alerts = CounterMetricFamily(
            "oracle_alerts",
            "Deviations, exclusions and halts recorded.",
            labels=["pair", "kind", "reason"],
        )
        status = GaugeMetricFamily(
            "oracle_pair_status",
            "1 for the current status of each pair.",
            labels=["pair", "status"],
        )
        try:
            rows = OracleAlert.objects.values("pair", "kind", "reason").annotate(n=Count("id"))
            for row in rows:
                alerts.add_metric([row["pair"], row["kind"], row["reason"]], row["n"])
            for agg in selectors.price_list():
                status.add_metric([agg.pair, str(agg.status)], 1)
        except Exception:  # a scrape must not fail because a dependency is down
            logging.getLogger(__name__).warning("oracle metrics unavailable", exc_info=True)
        yield alerts
        yield status

    def describe(self):
        return []


def register() -> None:
    if not getattr(register, "done", False):
        REGISTRY.register(OracleCollector())
        register.done = True  # type: ignore[attr-defined]
