"""Factories for listings. ``ListingFactory()`` sells ETH on local-a for TEST on local-b."""

from __future__ import annotations

from decimal import Decimal

import factory

from accounts.tests.factories import UserFactory, WalletFactory
from chains.models import Asset
from marketplace.models import Listing


class AssetFactory(factory.django.DjangoModelFactory):
    """An asset row, reused when one with the same network and symbol exists."""

    class Meta:
        model = Asset
        django_get_or_create = ("network", "symbol")

    network = "local-a"
    symbol = "ETH"
    name = factory.LazyAttribute(lambda o: o.symbol)
    decimals = 18
    address = None


def eth_asset(network: str = "local-a") -> Asset:
    return AssetFactory(network=network, symbol="ETH", decimals=18, address=None)


def token_asset(network: str = "local-b") -> Asset:
    return AssetFactory(
        network=network,
        symbol="TEST",
        decimals=6,
        is_test=True,
        address="0x" + ("b" if network == "local-b" else "a") * 40,
    )


class ListingFactory(factory.django.DjangoModelFactory):
    """An active fixed-price listing of 10 ETH (1 to 5 per trade) at 2000 TEST per ETH.

    The payout and refund addresses are wallets linked to the maker, as the services require.
    """

    class Meta:
        model = Listing
        skip_postgeneration_save = True

    maker = factory.SubFactory(UserFactory)
    base_asset = factory.LazyFunction(eth_asset)
    quote_asset = factory.LazyFunction(token_asset)
    amount = Decimal("10")
    remaining = factory.LazyAttribute(lambda o: o.amount)
    min_trade = Decimal("1")
    max_trade = Decimal("5")
    price = Decimal("2000")
    price_margin_pct = None
    payout_address = factory.LazyAttribute(lambda o: WalletFactory(user=o.maker).address)
    refund_address = factory.SelfAttribute("payout_address")
    terms = ""
    state = Listing.State.ACTIVE

    class Params:
        # ListingFactory(market=True): 1 % over the oracle price instead of a fixed price.
        market = factory.Trait(price=None, price_margin_pct=Decimal("1"))
