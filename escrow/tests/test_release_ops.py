"""The relayer's automatic release as operations see it: beat schedules it, and an order
still held well past its release time (not sent, or sent and stuck) is counted in
/metrics and listed by an admin filter. (The release itself: test_e2e.py, on anvil.)"""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.test import Client
from prometheus_client import REGISTRY

from accounts.tests.factories import UserFactory
from config.celery import app
from config.schedules import CELERY_BEAT_SCHEDULE, RELAYER_INTERVAL
from escrow import selectors, services
from escrow.models import Order
from escrow.tests.factories import order_without_chain

pytestmark = pytest.mark.django_db
S = Order.State


@pytest.fixture(autouse=True)
def no_chains(settings):
    settings.CHAIN_NETWORKS = []
    settings.ESCROW_RELEASE_OVERDUE_SECONDS = 600


def _held(release_at: int, *, sent: str = "", to: str = S.FUNDED) -> Order:
    order = order_without_chain(release_at=release_at, onchain_id="0x" + "cd" * 32)
    services.order_transition(order_id=order.pk, to=S.FUNDED, cause="deposit_confirmed")
    if to != S.FUNDED:
        services.order_transition(order_id=order.pk, to=to, cause="test")
    Order.objects.filter(pk=order.pk).update(release_sent_tx=sent)
    return order


def test_beat_sends_the_automatic_release_every_relayer_interval():
    # given
    entry = CELERY_BEAT_SCHEDULE["escrow-release-due"]
    # then: a registered task that runs the service, not left to pile up
    assert entry["task"] == "escrow.release_due" and entry["schedule"] == RELAYER_INTERVAL
    assert entry["options"]["expires"] >= RELAYER_INTERVAL
    with mock.patch.object(services, "orders_release_due") as release_due:
        app.tasks["escrow.release_due"].apply()
    release_due.assert_called_once_with()


def test_an_order_held_past_its_release_time_by_the_margin_is_overdue():
    # given
    now = int(time.time())
    unsent = _held(now - 601)
    stuck = _held(now - 3600, sent="0x" + "ee" * 32)
    _held(now - 599)  # within the margin: the next pass sends it
    _held(now - 3600, to=S.DISPUTED)  # a dispute stops the automatic release
    # when
    found = set(selectors.orders_release_overdue(now=now).values_list("pk", flat=True))
    # then
    assert found == {unsent.pk, stuck.pk}


def test_metrics_count_overdue_releases_sent_and_not_sent():
    # given
    now = int(time.time())
    _held(now - 3600)
    _held(now - 3600, sent="0x" + "ee" * 32)
    _held(now - 3600, sent="0x" + "ef" * 32)
    # when
    value = REGISTRY.get_sample_value
    # then
    assert value("escrow_releases_overdue", {"sent": "no"}) == 1
    assert value("escrow_releases_overdue", {"sent": "yes"}) == 2
    assert value("escrow_orders", {"state": "funded"}) == 3


def test_staff_list_the_overdue_releases_in_the_admin():
    # given
    now = int(time.time())
    late = _held(now - 3600)
    on_time = _held(now + 3600)
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(staff)
    # when
    page = browser.get("/admin/escrow/order/?queue=overdue")
    # then
    assert page.status_code == 200
    body = page.content.decode()
    assert str(late.pk) in body and str(on_time.pk) not in body
