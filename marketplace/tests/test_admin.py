"""The listing admin: read-only, with hide (asks a reason) and unhide actions."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from marketplace.models import Listing
from marketplace.tests.factories import ListingFactory

pytestmark = pytest.mark.django_db
URL = "/admin/marketplace/listing/"


@pytest.fixture
def staff_client(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    client.staff = staff
    return client


def test_admin_lists_and_filters_by_state(staff_client):
    # given
    active = ListingFactory()
    paused = ListingFactory(state=Listing.State.PAUSED)
    # when
    page = staff_client.get(URL, {"state__exact": "paused"})
    # then
    assert page.status_code == 200
    shown = [row.pk for row in page.context["cl"].result_list]
    assert shown == [paused.pk]
    assert active.pk not in shown


def test_hide_action_asks_for_a_reason_then_hides(staff_client):
    # given
    listings = [ListingFactory(), ListingFactory()]
    ids = [str(listing.pk) for listing in listings]
    # when: the action first shows the reason form
    ask = staff_client.post(URL, {"action": "hide", "_selected_action": ids})
    done = staff_client.post(
        URL, {"action": "hide", "_selected_action": ids, "reason": "Scam terms"}
    )
    # then
    assert ask.status_code == 200
    assert b"reason" in ask.content
    assert done.status_code == 302
    for listing in listings:
        listing.refresh_from_db()
        assert listing.hidden_reason == "Scam terms"
        assert listing.hidden_by == staff_client.staff


def test_unhide_action(staff_client):
    # given
    listing = ListingFactory()
    staff_client.post(URL, {"action": "hide", "_selected_action": [listing.pk], "reason": "check"})
    # when
    staff_client.post(URL, {"action": "unhide", "_selected_action": [listing.pk]})
    # then
    listing.refresh_from_db()
    assert listing.hidden_at is None


def test_admin_change_page_is_read_only(staff_client):
    # given
    listing = ListingFactory()
    # when
    page = staff_client.get(f"{URL}{listing.pk}/change/")
    # then
    assert page.status_code == 200
    assert b'name="amount"' not in page.content
