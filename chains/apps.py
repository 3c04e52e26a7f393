from django.apps import AppConfig


class ChainsConfig(AppConfig):
    """The only code that talks to blockchains (web3, eth-account, vyper, ic-py)."""

    name = "chains"

    def ready(self) -> None:
        from chains import health, metrics

        metrics.register()
        health.register()
