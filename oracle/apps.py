from django.apps import AppConfig


class OracleConfig(AppConfig):
    """Prices from several sources, aggregated and guarded."""

    name = "oracle"

    def ready(self) -> None:
        from oracle import metrics

        metrics.register()
