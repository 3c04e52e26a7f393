from django.apps import AppConfig


class SwapsConfig(AppConfig):
    """The atomic swap state machine and disputes."""

    name = "swaps"

    def ready(self) -> None:
        from chains import events
        from swaps import chain, metrics

        metrics.register()
        events.subscribe("swaps.chain", chain.on_chain_event)
