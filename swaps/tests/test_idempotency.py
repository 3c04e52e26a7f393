"""Idempotency-Key on the swap's money-moving POSTs: a client that lost the answer to
"take this listing" or "cancel" retries with the same key and gets the first answer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.models import Listing
from swaps.models import Swap
from swaps.tests.factories import make_swap, secret_pair
from swaps.tests.test_api import post_swap

pytestmark = pytest.mark.django_db


def _keyed(api, key: str):
    api.credentials(HTTP_IDEMPOTENCY_KEY=key)
    return api


def test_a_retried_take_returns_the_first_swap_and_reserves_once(taker_api, listing):
    # given: the first attempt created the swap (its answer lost on the way)
    _, hashlock = secret_pair()
    api = _keyed(taker_api, "take-7f3a")
    first = post_swap(api, listing, amount="1.25", hashlock=hashlock)
    assert first.status_code == 201, first.content
    # when: the client retries with the same key and body
    retry = post_swap(api, listing, amount="1.25", hashlock=hashlock)
    # then: the same swap, marked as replayed; one swap, one reservation
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert Swap.objects.count() == 1
    listing.refresh_from_db()
    assert listing.remaining == Decimal("1.75")


def test_without_a_key_the_retry_is_refused_as_a_reused_hashlock(taker_api, listing):
    _, hashlock = secret_pair()
    assert post_swap(taker_api, listing, hashlock=hashlock).status_code == 201
    again = post_swap(taker_api, listing, hashlock=hashlock)
    assert (again.status_code, again.json()["code"]) == (400, "hashlock_reused")


def test_the_same_key_for_another_amount_is_a_422_and_takes_nothing(taker_api, listing):
    api = _keyed(taker_api, "take-7f3a")
    assert post_swap(api, listing, amount="1").status_code == 201
    other = post_swap(api, listing, amount="1.5")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    assert Swap.objects.count() == 1


def test_a_retried_cancel_replays_the_cancelled_swap_instead_of_a_409(api, swap_env):
    # given
    swap, _, _, (taker, _) = make_swap(amount=Decimal("2"))
    api.force_authenticate(taker)
    api.credentials(HTTP_IDEMPOTENCY_KEY="cancel-1")
    # when
    first = api.post(f"/api/v1/swaps/{swap.pk}/cancel")
    retry = api.post(f"/api/v1/swaps/{swap.pk}/cancel")
    # then
    assert first.status_code == retry.status_code == 200
    assert retry.json()["state"] == "cancelled" and retry["Idempotent-Replayed"] == "true"
    assert Listing.objects.get(pk=swap.listing_id).remaining == Decimal("3")


def test_a_malformed_key_is_a_400_before_anything_runs(taker_api, listing):
    api = _keyed(taker_api, "bad key with spaces")
    answer = post_swap(api, listing)
    assert (answer.status_code, answer.json()["code"]) == (400, "idempotency_key_invalid")
    assert Swap.objects.count() == 0
