from django.apps import AppConfig


class OracleConfig(AppConfig):
    """Prices from several sources, aggregated and guarded."""

    name = "oracle"
