from django.apps import AppConfig


class EscrowConfig(AppConfig):
    """Goods and services paid into the on-chain escrow, with staff arbitration."""

    name = "escrow"

    def ready(self) -> None:
        from escrow import tasks  # noqa: F401 (registered by name)

        # escrow.chain.on_chain_event joins chains.events (order DOMAIN) once the watcher
        # reads the Escrow's logs: see docs/escrow.md, "Wiring into the watcher".
