"""Whole purchases on two real anvil chains, through the API, with real signed transactions.

The parties are anvil's development accounts (buyer 1, seller 2; the treasury is account 7
and the arbiter account 8 on local chains). Confirmed events reach the order the way the
watcher hands them on (``support.feed``, from the real receipts), and once through the
real watcher itself with the hook-up docs/escrow.md asks for (``watcher_reads_escrow``).
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from chains import selectors as chain_selectors
from chains import watcher
from chains.models import Asset
from chains.tests.support import user as dev_account
from escrow import services
from escrow.models import Category, Order, OrderEvent
from escrow.tests.support import (
    feed,
    send,
    sign_in,
    test_token,
    wait,
    watcher_reads_escrow,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TREASURY = dev_account(7).address


def _product(seller_api, seller, network="local-b", **extra) -> dict:
    asset = Asset.objects.get(network=network, symbol="TEST")
    body = {
        "title": "Aromatic rice",
        "description": "Harvested in November.",
        "category": Category.objects.get_or_create(name="Grains")[0].pk,
        "unit": "kg",
        "price": "2.5",
        "shipping_fee": "1",
        "asset": asset.pk,
        "quantity_available": 10,
        "payout_address": seller.address,
        "region": "Rajshahi",
        **extra,
    }
    answer = seller_api.post("/api/v1/products/", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def _detail(api, order_id) -> dict:
    answer = api.get(f"/api/v1/orders/{order_id}/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def _paid_order(escrow_env, quantity=2):
    """Seller lists rice in TEST on local-b; buyer orders `quantity`, approves, deposits;
    the deposit is confirmed. Returns (chain, buyer, seller, apis, order json, token)."""
    _, b = escrow_env
    buyer, seller = dev_account(1), dev_account(2)
    buyer_api, seller_api = sign_in(buyer), sign_in(seller)
    product = _product(seller_api, seller)
    answer = buyer_api.post(
        "/api/v1/orders/",
        {"product": product["id"], "quantity": quantity, "refund_address": buyer.address},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    order = answer.json()
    assert order["next_action"]["action"] == "approve"
    send(b, buyer, order["next_action"])
    step = _detail(buyer_api, order["id"])["next_action"]
    assert step["action"] == "deposit"
    receipt = send(b, buyer, step)
    # mined, not yet confirmed: the buyer is told to wait, never offered the deposit again
    assert _detail(buyer_api, order["id"])["next_action"]["reason"] == "deposit_confirming"
    feed(b, "local-b", receipt)
    return b, buyer, seller, buyer_api, seller_api, _detail(buyer_api, order["id"])


def test_e2e_two_units_in_test_shipped_confirmed_released_pays_seller_and_treasury_exactly(
    escrow_env,
):
    # given a product at 2.5 TEST/kg with 1 TEST shipping, ordered twice over
    _, b = escrow_env
    buyer, seller = dev_account(1), dev_account(2)
    buyer_api, seller_api = sign_in(buyer), sign_in(seller)
    product = _product(seller_api, seller)
    answer = buyer_api.post(
        "/api/v1/orders/",
        {"product": product["id"], "quantity": 2, "refund_address": buyer.address},
        format="json",
    )
    order = answer.json()
    # then the summary before paying: 5 + 1 shipping + 1 % fee of 6
    assert (order["subtotal"], order["shipping_fee"], order["fee"], order["total"]) == (
        "5.000000",
        "1.000000",
        "0.060000",
        "6.060000",
    )
    assert order["state"] == "created" and order["release_at"] > 0
    token = test_token(b, "local-b")
    seller_before = token.functions.balanceOf(seller.address).call()
    treasury_before = token.functions.balanceOf(TREASURY).call()

    # when the buyer approves and deposits exactly as next_action says
    send(b, buyer, order["next_action"])
    deposit = send(b, buyer, _detail(buyer_api, order["id"])["next_action"])
    feed(b, "local-b", deposit)
    # then the order is funded, with the deposit as evidence
    funded = _detail(buyer_api, order["id"])
    assert funded["state"] == "funded"
    assert funded["history"][-1]["tx_hash"] == deposit["transactionHash"].to_0x_hex()
    assert _detail(seller_api, order["id"])["next_action"]["action"] == "ship"
    assert funded["next_action"]["action"] == "confirm"

    # when the seller ships with tracking details and a file
    shipped = seller_api.post(
        f"/api/v1/orders/{order['id']}/ship",
        {
            "tracking": "Sundarban Courier 12345",
            "files": [SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 courier receipt")],
        },
        format="multipart",
    )
    assert shipped.status_code == 200, shipped.content
    assert shipped.json()["state"] == "shipped"
    # and the buyer confirms; the answer is the release to send
    confirmed = buyer_api.post(f"/api/v1/orders/{order['id']}/confirm")
    assert confirmed.status_code == 200, confirmed.content
    step = confirmed.json()["next_action"]
    assert confirmed.json()["state"] == "delivered" and step["action"] == "release"
    release = send(b, buyer, step)
    feed(b, "local-b", release)

    # then released: the seller got total - fee, the treasury the fee, to the base unit
    done = _detail(buyer_api, order["id"])
    assert done["state"] == "released"
    assert [h["to_state"] for h in done["history"]] == [
        "created",
        "funded",
        "shipped",
        "delivered",
        "released",
    ]
    assert [h["party"] for h in done["history"][2:4]] == ["seller", "buyer"]
    assert token.functions.balanceOf(seller.address).call() - seller_before == 6_000_000
    assert token.functions.balanceOf(TREASURY).call() - treasury_before == 60_000
    # and the buyer may review the seller, once
    review = buyer_api.post(
        f"/api/v1/orders/{order['id']}/review", {"rating": 5, "text": "Good rice"}
    )
    assert review.status_code == 201, review.content
    again = buyer_api.post(f"/api/v1/orders/{order['id']}/review", {"rating": 4})
    assert again.json()["code"] == "already_reviewed"


def test_e2e_unconfirmed_order_is_released_automatically_after_its_release_time(escrow_env):
    # given a paid order the buyer never confirms
    b, buyer, seller, buyer_api, _, order = _paid_order(escrow_env)
    token = test_token(b, "local-b")
    seller_before = token.functions.balanceOf(seller.address).call()
    treasury_before = token.functions.balanceOf(TREASURY).call()
    # when the relayer's pass runs before the release time, nothing is sent
    assert services.orders_release_due() == 0
    # and after it (anvil time travel)
    b.travel(order["release_at"] - b.now() + 1)
    assert services.orders_release_due() == 1
    sent = Order.objects.get(pk=order["id"]).release_sent_tx
    feed(b, "local-b", wait(b, sent))
    # then released by the relayer, paid exactly as a buyer's release
    done = _detail(buyer_api, order["id"])
    assert done["state"] == "released"
    assert done["history"][-1]["tx_hash"] == sent
    assert token.functions.balanceOf(seller.address).call() - seller_before == 6_000_000
    assert token.functions.balanceOf(TREASURY).call() - treasury_before == 60_000
    # and a second pass sends nothing more
    assert services.orders_release_due() == 0


def test_e2e_dispute_resolved_30_70_by_staff_pays_exactly(escrow_env):
    # given a paid order
    b, buyer, seller, buyer_api, seller_api, order = _paid_order(escrow_env)
    token = test_token(b, "local-b")
    buyer_before = token.functions.balanceOf(buyer.address).call()
    seller_before = token.functions.balanceOf(seller.address).call()
    treasury_before = token.functions.balanceOf(TREASURY).call()
    # when the buyer disputes: the message is recorded, the answer is the transaction
    answer = buyer_api.post(
        f"/api/v1/orders/{order['id']}/dispute", {"message": "Half the rice is wet."}
    )
    assert answer.status_code == 200, answer.content
    step = answer.json()["next_action"]
    assert step["action"] == "dispute"
    feed(b, "local-b", send(b, buyer, step))
    assert _detail(seller_api, order["id"])["state"] == "disputed"
    # and staff decide 30 % to the buyer
    staff_api = APIClient()
    staff_api.force_authenticate(UserFactory(is_staff=True))
    decided = staff_api.post(
        f"/api/v1/orders/{order['id']}/resolve",
        {"buyer_share_pct": "30", "reason": "Photos show a third of the sacks wet."},
        format="json",
    )
    assert decided.status_code == 201, decided.content
    feed(b, "local-b", wait(b, decided.json()["tx_hash"]))
    # then resolved: 30 % of the whole deposit to the buyer (rounded down), the rest to the
    # seller, nothing to the treasury
    done = _detail(buyer_api, order["id"])
    assert done["state"] == "resolved"
    total = 6_060_000
    assert token.functions.balanceOf(buyer.address).call() - buyer_before == total * 3000 // 10000
    assert token.functions.balanceOf(seller.address).call() - seller_before == (
        total - total * 3000 // 10000
    )
    assert token.functions.balanceOf(TREASURY).call() == treasury_before
    # and both parties see the decision and its reason in the conversation
    messages = seller_api.get(f"/api/v1/orders/{order['id']}/messages").json()
    assert messages[-1]["staff"] is True and "30% to the buyer" in messages[-1]["body"]


def test_e2e_resolve_refused_to_parties_and_hidden_from_strangers(escrow_env):
    # given a disputed order
    b, buyer, _, buyer_api, _, order = _paid_order(escrow_env)
    step = buyer_api.post(
        f"/api/v1/orders/{order['id']}/dispute", {"message": "Wrong variety."}
    ).json()["next_action"]
    feed(b, "local-b", send(b, buyer, step))
    stranger_api = sign_in(dev_account(3))
    body = {"buyer_share_pct": "100", "reason": "mine"}
    # when / then a party is refused, a stranger does not learn the order exists
    assert (
        buyer_api.post(f"/api/v1/orders/{order['id']}/resolve", body, format="json").json()["code"]
        == "staff_only"
    )
    answer = stranger_api.post(f"/api/v1/orders/{order['id']}/resolve", body, format="json")
    assert answer.status_code == 404
    assert stranger_api.get(f"/api/v1/orders/{order['id']}/").status_code == 404


def test_e2e_the_real_watcher_with_the_hook_up_drives_the_order(escrow_env):
    # given the watcher reads the Escrow's logs (the hook-up docs/escrow.md asks for)
    a, b = escrow_env
    buyer, seller = dev_account(1), dev_account(2)
    buyer_api, seller_api = sign_in(buyer), sign_in(seller)
    product = _product(seller_api, seller, network="local-a")
    order = buyer_api.post(
        "/api/v1/orders/",
        {"product": product["id"], "quantity": 1, "refund_address": buyer.address},
        format="json",
    ).json()
    send(a, buyer, order["next_action"])
    deposit = send(a, buyer, _detail(buyer_api, order["id"])["next_action"])
    network = chain_selectors.network_get("local-a")
    with watcher_reads_escrow():
        # when a block confirms the deposit and the watcher scans
        _scan(a, network)
        # then funded from the stored event, with its evidence
        funded = _detail(buyer_api, order["id"])
        assert funded["state"] == "funded"
        assert funded["history"][-1]["tx_hash"] == deposit["transactionHash"].to_0x_hex()
        # when the buyer confirms and releases, and the watcher scans again
        step = buyer_api.post(f"/api/v1/orders/{order['id']}/confirm").json()
        release = send(a, buyer, step["next_action"])
        _scan(a, network)
    # then released, with the release as evidence
    done = _detail(buyer_api, order["id"])
    assert done["state"] == "released"
    assert done["history"][-1]["tx_hash"] == release["transactionHash"].to_0x_hex()


def _scan(chain, network) -> None:
    chain.mine(1)
    while watcher.network_scan(network=network).status == "scanned":
        pass


def test_e2e_reorg_orphaning_the_release_steps_the_order_back(escrow_env):
    # given a paid, delivered and released order
    b, buyer, seller, buyer_api, seller_api, order = _paid_order(escrow_env)
    seller_api.post(f"/api/v1/orders/{order['id']}/ship", {"tracking": "by hand"})
    step = buyer_api.post(f"/api/v1/orders/{order['id']}/confirm").json()["next_action"]
    receipt = send(b, buyer, step)
    feed(b, "local-b", receipt)
    assert _detail(buyer_api, order["id"])["state"] == "released"
    # when a reorg orphans the release
    feed(b, "local-b", receipt, orphaned=True)
    # then the order is delivered again, the rollback recorded
    again = _detail(buyer_api, order["id"])
    assert again["state"] == "delivered"
    assert again["history"][-1]["cause"] == "reorg"
    # and the same event confirmed again moves it forward once more
    feed(b, "local-b", receipt)
    assert _detail(buyer_api, order["id"])["state"] == "released"
    assert OrderEvent.objects.filter(order_id=order["id"], to_state="released").count() == 2
