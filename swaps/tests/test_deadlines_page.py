"""The swap page's deadlines and words: each deadline and timelock as a time with a
countdown, the same state in each party's words, and at the end where each coin went, who
paid each fee and the transactions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from swaps.models import Swap
from swaps.tests.flow import detail, redeem, scan_all, send, take

pytestmark = pytest.mark.django_db(transaction=True)


def page(swap_id, user) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/swaps/{swap_id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_after_the_sellers_deadline_both_parties_read_the_same_state(swap_env):
    # given: the buyer locked; the seller's deadline passed without a lock
    a, b = swap_env
    swap, _secret, (maker_api, _), (taker_api, taker_key), _listing = take(swap_env, amount="1")
    send(b, taker_key, swap["next_action"])
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])
    scan_all(swap_env)
    row = Swap.objects.get(pk=swap["id"])
    taker_html = page(row.pk, row.taker)
    assert 'data-deadline="maker_lock"' in taker_html and "data-countdown" in taker_html
    Swap.objects.filter(pk=row.pk).update(maker_deadline=timezone.now() - timedelta(seconds=5))
    # when
    taker_step = detail(taker_api, swap["id"])["next_action"]
    maker_step = detail(maker_api, swap["id"])["next_action"]
    # then: the buyer is no longer told to wait for a lock; the seller may still lock
    assert taker_step["reason"] == "maker_late"
    assert maker_step["action"] == "lock" and maker_step["late"] is True
    assert "You missed the deadline to lock" in page(row.pk, row.maker)
    taker_html = page(row.pk, row.taker)
    assert "The seller missed the deadline to lock" in taker_html
    assert "Waiting for the seller to lock" not in taker_html
    # when: the seller's timelock T2 passes on the base chain
    a.travel(row.maker_timelock - a.w3.eth.get_block("latest")["timestamp"] + 1)
    # then: both read that it is over for the seller's lock
    assert detail(taker_api, swap["id"])["next_action"]["reason"] == "maker_too_late"
    assert detail(maker_api, swap["id"])["next_action"]["reason"] == "refund_pending"


def test_a_completed_swap_says_where_each_coin_went_and_who_paid_each_fee(swap_env):
    # given: a whole swap, the buyer's payment redeemed by the relayer
    a, b = swap_env
    swap, secret, (maker_api, maker_key), (taker_api, taker_key), _ = take(swap_env, amount="1")
    send(b, taker_key, swap["next_action"])
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])
    scan_all(swap_env)
    send(a, maker_key, detail(maker_api, swap["id"])["next_action"])
    scan_all(swap_env)
    redeem(a, taker_key, detail(taker_api, swap["id"])["next_action"], secret)
    scan_all(swap_env)
    scan_all(swap_env)
    row = Swap.objects.get(pk=swap["id"])
    assert row.state == "completed"
    # when
    taker_html = page(row.pk, row.taker)
    maker_html = page(row.pk, row.maker)
    # then
    assert "Done: you received 1 ETH on local-a" in taker_html
    assert "Done: you received 2.5 TEST on local-b" in maker_html
    assert f"Redeemed: paid to {maker_key.address.lower()}" in taker_html
    assert f"Redeemed: paid to {taker_key.address.lower()}" in taker_html
    assert "you paid its fee" in taker_html  # the buyer's own lock and redeem
    assert "our relayer paid its fee" in maker_html  # the relayer redeemed for the seller
    assert taker_html.count('data-lock-outcome="paid"') == 2
