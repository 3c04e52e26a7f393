"""One rule for "in the offer book, open to takers", and one for who sees a listing's page."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from marketplace.models import Listing
from marketplace.selectors import listing_get_for
from marketplace.tests.factories import ListingFactory

pytestmark = pytest.mark.django_db


def test_the_book_query_and_the_takeable_guard_agree_on_every_kind_of_listing():
    # given: every state, hidden or not, deleted or not, expiring never, later or earlier
    now = timezone.now()
    expiries = [None, now + timedelta(hours=1), now - timedelta(seconds=1), now]
    for state, hidden, deleted, expires_at in itertools.product(
        Listing.State.values, [False, True], [False, True], expiries
    ):
        ListingFactory(
            state=state,
            hidden_at=now if hidden else None,
            deleted_at=now if deleted else None,
            expires_at=expires_at,
        )
    everything = list(Listing.objects.all())
    # when
    in_book = set(Listing.objects.visible(now=now))
    takeable = {listing for listing in everything if listing.is_takeable(now=now)}
    # then: the same listings, and only active, shown, live ones
    assert in_book == takeable
    assert len(in_book) == 2  # active, not hidden, not deleted, no expiry or a later one
    assert all(lst.state == "active" and lst.hidden_at is None for lst in in_book)


def test_a_hidden_listing_is_seen_by_its_maker_only_and_a_deleted_one_by_nobody():
    # given
    hidden = ListingFactory(hidden_at=timezone.now(), hidden_reason="spam")
    deleted = ListingFactory(deleted_at=timezone.now())
    shown = ListingFactory(state=Listing.State.PAUSED)
    stranger = UserFactory()
    # then
    assert listing_get_for(listing_id=hidden.pk, viewer=hidden.maker) == hidden
    assert listing_get_for(listing_id=hidden.pk, viewer=stranger) is None
    assert listing_get_for(listing_id=hidden.pk, viewer=None) is None
    assert listing_get_for(listing_id=deleted.pk, viewer=deleted.maker) is None
    assert listing_get_for(listing_id=shown.pk, viewer=None) is None  # paused: not public
    assert listing_get_for(listing_id=shown.pk, viewer=shown.maker) == shown
