from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    """Listings and the offer book."""

    name = "marketplace"
