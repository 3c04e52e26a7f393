"""The arbitration desk in the admin: the queue, and the decision sent with the arbiter key."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory
from escrow.models import Order, Resolution
from escrow.tests.support import feed, send, wait
from escrow.tests.test_e2e import _detail, _paid_order

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_admin_queue_lists_undecided_disputes_and_the_decision_resolves_on_chain(escrow_env):
    # given a disputed order
    b, buyer, _, buyer_api, _, order = _paid_order(escrow_env)
    step = buyer_api.post(
        f"/api/v1/orders/{order['id']}/dispute", {"message": "Not what was agreed."}
    ).json()["next_action"]
    feed(b, "local-b", send(b, buyer, step))
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    # when staff open the queue
    page = admin.get("/admin/escrow/order/?queue=open")
    # then the order is in it, with the decision form one action away
    assert page.status_code == 200 and order["id"] in page.content.decode()
    form = admin.post(
        "/admin/escrow/order/", {"action": "decide", "_selected_action": [order["id"]]}
    )
    assert b"Not what was agreed." in form.content
    # when they decide 30 % to the buyer with a reason
    done = admin.post(
        "/admin/escrow/order/",
        {
            "action": "decide",
            "_selected_action": [order["id"]],
            "apply": "1",
            "buyer_share_pct": "30",
            "reason": "Half the order was the wrong variety.",
        },
        follow=True,
    )
    assert done.status_code == 200
    # then the decision is audited with its transaction, and the watcher's confirmation
    # resolves the order
    resolution = Resolution.objects.get(order_id=order["id"])
    assert (resolution.buyer_share_bps, resolution.decided_by) == (3000, staff)
    feed(b, "local-b", wait(b, resolution.tx_hash))
    assert Order.objects.get(pk=order["id"]).state == Order.State.RESOLVED
    messages = buyer_api.get(f"/api/v1/orders/{order['id']}/messages").json()
    assert "Half the order was the wrong variety." in messages[-1]["body"]
    assert _detail(buyer_api, order["id"])["history"][-1]["to_state"] == "resolved"
    # and the order leaves the queue
    assert order["id"] not in admin.get("/admin/escrow/order/?queue=open").content.decode()
