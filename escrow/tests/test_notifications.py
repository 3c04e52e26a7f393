"""Order notices: the parties are told each state an order ends in (not the one whose own
step it was) through the site's notifications (accounts.notices → swaps' Notification:
the list, the unread badge, e-mail to a verified address in the reader's language)."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from escrow import services
from escrow.models import Order, Resolution
from escrow.tests.factories import UserFactory, order_without_chain
from swaps.models import Notification

pytestmark = pytest.mark.django_db
S = Order.State


@pytest.fixture(autouse=True)
def no_chains(settings):
    settings.CHAIN_NETWORKS = []


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run what services queue on commit (the notice task) as a commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _notes(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user).order_by("pk"))


def test_a_funded_order_tells_both_parties_and_mails_a_verified_address(committed):
    # given
    order = order_without_chain()
    EmailAddress.objects.create(user=order.seller, email="s@example.com", verified=True)
    # when
    with committed():
        services.order_transition(order_id=order.pk, to=S.FUNDED, cause="deposit_confirmed")
    # then
    (to_buyer,) = _notes(order.buyer)
    (to_seller,) = _notes(order.seller)
    short = str(order.pk)[:8]
    assert to_buyer.text == f"Your payment for order {short} is held in the escrow."
    assert to_seller.kind == "order_funded"
    assert to_seller.link == f"/shop/orders/{order.pk}/"
    assert to_seller.swap_id is None
    (sent,) = mail.outbox  # the buyer has no verified address
    assert sent.to == ["s@example.com"]
    assert "send it, then mark it shipped" in sent.body
    assert f"/shop/orders/{order.pk}/" in sent.body


def test_the_party_whose_step_it_was_is_not_told(committed):
    # given
    order = order_without_chain()
    order = services.order_transition(order_id=order.pk, to=S.FUNDED, cause="deposit_confirmed")
    # when
    with committed():
        services.order_ship(order=order, actor=order.seller, tracking="Post 123")
    # then
    assert _notes(order.seller) == []
    (note,) = _notes(order.buyer)
    assert note.kind == "order_shipped" and "confirm it when it has arrived" in note.text


def test_a_retried_notice_task_tells_nobody_twice(committed):
    # given
    order = order_without_chain()
    with committed():
        services.order_transition(order_id=order.pk, to=S.FUNDED, cause="deposit_confirmed")
    # when: the task runs again (Celery retry)
    services.notify_parties(order_id=order.pk, state=S.FUNDED)
    # then
    assert len(_notes(order.buyer)) == 1 and len(_notes(order.seller)) == 1


def test_a_state_passed_through_is_not_announced():
    # given: an order cancelled (its own notice not sent here)
    order = order_without_chain()
    services.order_transition(order_id=order.pk, to=S.CANCELLED, cause="payment_window_passed")
    # when: a late notice task for an earlier state
    services.notify_parties(order_id=order.pk, state=S.CREATED)
    services.notify_parties(order_id=order.pk, state=S.FUNDED)
    # then
    assert Notification.objects.count() == 0


def test_the_resolution_tells_both_parties_the_split_and_why_in_their_language(committed):
    # given: a disputed order staff decided 30/70
    order = order_without_chain()
    services.order_transition(order_id=order.pk, to=S.FUNDED, cause="deposit_confirmed")
    services.order_transition(order_id=order.pk, to=S.DISPUTED, cause="dispute_confirmed")
    Resolution.objects.create(
        order=order,
        buyer_share_bps=3000,
        reason="Half the rice was wet.",
        decided_by=UserFactory(is_staff=True),
        tx_hash="0x" + "ab" * 32,
    )
    # when
    with committed():
        services.order_transition(order_id=order.pk, to=S.RESOLVED, cause="resolve_confirmed")
    # then
    for user in (order.buyer, order.seller):
        (note,) = _notes(user)
        assert note.text == (
            f"The dispute on order {str(order.pk)[:8]} was decided: 30% to the buyer. "
            "Why: Half the rice was wet."
        )
    with translation.override("bn"):
        bengali = _notes(order.buyer)[0].text
    assert bengali == (
        f"অর্ডার {str(order.pk)[:8]}-এর বিরোধের সিদ্ধান্ত হয়েছে: ক্রেতা পাবেন 30%। "
        "কারণ: Half the rice was wet."
    )


def test_a_message_tells_the_other_party():
    # given
    order = order_without_chain()
    # when
    services.order_message_add(order=order, author=order.buyer, body="Is it dry?")
    # then
    assert _notes(order.buyer) == []
    (note,) = _notes(order.seller)
    assert note.kind == "order_message" and note.link == f"/shop/orders/{order.pk}/"


def test_the_notice_lists_with_its_link_and_opens_the_order_page(committed):
    # given
    order = order_without_chain()
    with committed():
        services.order_transition(order_id=order.pk, to=S.CANCELLED, cause="payment_window_passed")
    (note,) = _notes(order.seller)
    api = APIClient()
    api.force_authenticate(order.seller)
    # when
    listed = api.get("/api/v1/notifications/").json()["results"]
    browser = Client()
    browser.force_login(order.seller)
    opened = browser.get(f"/notifications/{note.pk}/open")
    # then
    assert listed[0]["link"] == f"/shop/orders/{order.pk}/"
    assert listed[0]["swap"] is None
    assert opened.status_code == 302 and opened["Location"] == f"/shop/orders/{order.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None
