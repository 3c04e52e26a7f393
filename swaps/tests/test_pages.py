"""Swap pages: a party sees the timeline and the next step; anyone else gets a 404."""

from __future__ import annotations

import pytest

from swaps.tests.factories import make_swap, party

pytestmark = pytest.mark.django_db


def test_swap_page_shows_progress_and_the_next_step_to_the_taker(client, swap_env):
    swap, _, _, (taker, _) = make_swap()
    client.force_login(taker)
    page = client.get(f"/swaps/{swap.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-state="created"' in html and "Send with my wallet" in html
    assert 'id="next-action"' in html and '"action": "approve"' in html
    mine = client.get("/swaps/")
    assert str(swap.pk)[:10] in mine.content.decode()


def test_swap_page_is_a_404_for_anyone_else(client, swap_env):
    swap, *_ = make_swap()
    client.force_login(party(3)[0])
    assert client.get(f"/swaps/{swap.pk}/").status_code == 404
    client.logout()
    assert client.get(f"/swaps/{swap.pk}/").status_code == 302  # to sign-in


def test_listing_page_offers_the_take_form_with_the_takers_wallets(client, swap_env):
    from swaps.tests.factories import eth_test_listing

    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key)
    taker, taker_key = party(2)
    client.force_login(taker)
    html = client.get(f"/listings/{listing.pk}/").content.decode()
    assert 'id="take-form"' in html and taker_key.address in html and "/static/js/take." in html
    client.force_login(maker)  # the maker manages, never takes, their own listing
    assert 'id="take-form"' not in client.get(f"/listings/{listing.pk}/").content.decode()


def test_my_swaps_shows_unread_notifications_until_marked_read(client, swap_env):
    swap, *_ = make_swap()
    client.force_login(swap.maker)
    html = client.get("/swaps/").content.decode()
    assert "Your listing was taken" in html and f"/swaps/{swap.pk}/" in html
    assert client.post("/swaps/").status_code == 302
    assert "Your listing was taken" not in client.get("/swaps/").content.decode()
