from __future__ import annotations

from decimal import Decimal

import factory

from accounts.tests.factories import UserFactory
from chains.models import Asset
from escrow.models import Category, Product

__all__ = ["ProductFactory", "UserFactory", "asset"]


def asset(network: str = "local-a", symbol: str = "TEST", decimals: int = 6) -> Asset:
    """The registered asset, created if absent (pure database tests need no chain)."""
    found, _ = Asset.objects.get_or_create(
        network=network,
        symbol=symbol,
        defaults={
            "decimals": decimals,
            "address": None if symbol == "ETH" else "0x" + "ab" * 20,
        },
    )
    return found


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    seller = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Rice lot {n}")
    category = factory.LazyFunction(lambda: Category.objects.get_or_create(name="Grains")[0])
    unit = Product.Unit.KG
    asset = factory.LazyFunction(asset)
    price = Decimal("2.500000")
    quantity_available = 10
    payout_address = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
