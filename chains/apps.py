from django.apps import AppConfig


class ChainsConfig(AppConfig):
    """The only code that talks to blockchains (web3, eth-account, vyper, ic-py)."""

    name = "chains"

    def ready(self) -> None:
        from chains import events, health, metrics, relayer, tasks  # noqa: F401 (tasks: by name)

        metrics.register()
        health.register()
        events.subscribe("chains.relayer", relayer.on_chain_event, order=events.Order.RELAY)
