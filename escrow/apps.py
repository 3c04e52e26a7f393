from django.apps import AppConfig


class EscrowConfig(AppConfig):
    """Goods and services paid into the on-chain escrow, with staff arbitration."""

    name = "escrow"

    def ready(self) -> None:
        from chains import events
        from escrow import chain, metrics, tasks  # noqa: F401 (tasks: registered by name)

        metrics.register()

        events.subscribe("escrow.chain", chain.on_chain_events, order=events.Order.DOMAIN)
