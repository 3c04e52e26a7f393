from django.apps import AppConfig


class SwapsConfig(AppConfig):
    """The atomic swap state machine and disputes."""

    name = "swaps"

    def ready(self) -> None:
        from swaps import metrics

        metrics.register()
