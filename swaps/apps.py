from django.apps import AppConfig


class SwapsConfig(AppConfig):
    """The atomic swap state machine and disputes."""

    name = "swaps"

    def ready(self) -> None:
        from accounts import notices
        from chains import events
        from swaps import chain, metrics, services, tasks  # noqa: F401 (tasks: by name)

        metrics.register()
        notices.sink_register(services.notice_create)
        events.subscribe("swaps.chain", chain.on_chain_event, order=events.Order.DOMAIN)
