"""ListingOutput builds its fields directly (issue #15): the same output as DRF's generic walk
over the declared fields, value for value, for every kind of listing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework import serializers

from accounts.models import Reputation
from accounts.tests.factories import UserFactory
from marketplace import selectors
from marketplace.api.serializers import ListingOutput
from marketplace.tests.factories import ListingFactory
from marketplace.tests.support import publish_prices

pytestmark = pytest.mark.django_db


def test_listing_output_fast_path_equals_the_generic_walk(settings):
    # given: fixed and market-relative (bounded, unpriced), with and without a reputation,
    # a display name, an expiry, terms, a hidden one seen by its maker
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    known = UserFactory(display_name="Alice")
    Reputation.objects.create(
        user=known, completed_swaps=7, failed_swaps=2, volume_usd=Decimal("1234.5")
    )
    listings = [
        ListingFactory(maker=known, terms="fast bank transfer", price=Decimal("2000.123456")),
        ListingFactory(
            market=True,
            price_margin_pct=Decimal("-1.2345"),
            price_floor=Decimal("1900"),
            price_ceiling=Decimal("2100.5"),
            expires_at=timezone.now() + timedelta(days=3),
        ),
        ListingFactory(maker=known, hidden_at=timezone.now(), hidden_reason="spam"),
    ]
    rows = [selectors.listing_get(listing_id=listing.pk) for listing in listings]
    prices = selectors.listing_prices(rows)  # type: ignore[arg-type]
    for viewer in (None, known):
        context = {"prices": prices, "viewer": viewer}
        out = ListingOutput(context=context)
        for row in rows:
            # when
            fast = out.to_representation(row)
            generic = serializers.Serializer.to_representation(out, row)
            # then: same keys in the same order, same values and types
            assert list(fast) == list(generic)
            assert fast == generic
            assert [type(v) for v in fast.values()] == [type(v) for v in generic.values()]
    assert out.to_representation(rows[2])["hidden_reason"] == "spam"  # its maker sees why
