from django.apps import AppConfig


class EscrowConfig(AppConfig):
    """Goods and services paid into the on-chain escrow, with staff arbitration."""

    name = "escrow"

    def ready(self) -> None:
        from accounts.profile_sections import section_register
        from chains import events
        from escrow import chain, metrics, selectors, tasks  # noqa: F401 (tasks: by name)

        metrics.register()
        section_register("escrow.reviews", selectors.seller_public_section)

        events.subscribe("escrow.chain", chain.on_chain_events, order=events.Order.DOMAIN)
