from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from chains.models import Asset
from escrow.models import Category, Order, Product

__all__ = ["ProductFactory", "UserFactory", "asset", "order_without_chain"]


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


def order_without_chain(**extra) -> Order:
    """An order in ``created`` with terms as checkout fixes them, for tests that need no
    chain (``order_create`` reads the chain's clock); move it on with ``order_transition``."""
    fields = {
        "asset": asset(),
        "subtotal": Decimal("1.5"),
        "shipping_fee": Decimal("0"),
        "fee": Decimal("0.015"),
        "total": Decimal("1.515"),
        "fee_bps": 100,
        "buyer_address": "0x" + "11" * 20,
        "seller_address": "0x" + "22" * 20,
        "ref": "0x" + uuid.uuid4().hex * 2,
        "release_at": 2_000_000_000,
        "pay_by": timezone.now() + timedelta(hours=1),
        **extra,
    }
    for party in ("buyer", "seller"):
        if party not in fields:
            fields[party] = UserFactory()
    order = Order(**fields)
    order.save(force_insert=True)
    return order
