from django.apps import AppConfig


class SwapsConfig(AppConfig):
    """The atomic swap state machine and disputes."""

    name = "swaps"

    def ready(self) -> None:
        from chains import events
        from swaps import chain, metrics, tasks  # noqa: F401 (tasks: registered by name)

        metrics.register()
        events.subscribe("swaps.chain", chain.on_chain_event, order=events.Order.DOMAIN)
