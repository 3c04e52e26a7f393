"""Swap test data built through the real services (no hand-set states)."""

from __future__ import annotations

import hashlib
import os
from decimal import Decimal

from accounts.models import Wallet
from accounts.tests.factories import UserFactory, WalletFactory
from chains.models import Asset
from chains.tests.support import user as dev_account
from marketplace.models import Listing
from marketplace.tests.factories import ListingFactory
from swaps import services


def secret_pair() -> tuple[str, str]:
    """(secret, hashlock) as 0x hex: hashlock = sha256(secret), as a taker's client draws them."""
    secret = os.urandom(32)
    return "0x" + secret.hex(), "0x" + hashlib.sha256(secret).hexdigest()


def party(index: int):
    """A user owning anvil dev account `index` (the test token is minted to 1..4)."""
    key = dev_account(index)
    existing = Wallet.objects.filter(address__iexact=key.address).first()
    if existing:
        return existing.user, key
    wallet = WalletFactory(address=key.address, user=UserFactory())
    return wallet.user, key


def eth_test_listing(maker, maker_key, **overrides) -> Listing:
    """The maker sells ETH on local-a for TEST on local-b (assets from the deployed chains)."""
    fields = {
        "maker": maker,
        "base_asset": Asset.objects.get(network="local-a", symbol="ETH"),
        "quote_asset": Asset.objects.get(network="local-b", symbol="TEST"),
        "amount": Decimal("3"),
        "min_trade": Decimal("0.5"),
        "max_trade": Decimal("2"),
        "price": Decimal("2.5"),  # TEST per ETH: small, so the demo holders can pay it
        "payout_address": maker_key.address,
        "refund_address": maker_key.address,
    }
    fields.update(overrides)
    fields.setdefault("remaining", fields["amount"])
    return ListingFactory(**fields)


def make_swap(*, amount: Decimal = Decimal("1"), listing=None, taker_index: int = 2):
    """A created swap: maker = dev account 1, taker = dev account `taker_index`."""
    maker, maker_key = party(1)
    taker, taker_key = party(taker_index)
    listing = listing or eth_test_listing(maker, maker_key)
    secret, hashlock = secret_pair()
    swap = services.swap_create(
        taker=taker,
        listing_id=listing.pk,
        amount=amount,
        hashlock=hashlock,
        taker_address=taker_key.address,
    )
    return swap, secret, (maker, maker_key), (taker, taker_key)
