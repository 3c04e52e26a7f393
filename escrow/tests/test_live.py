"""The order WebSocket (/ws/orders/{id}/): the two parties only (session or JWT), the order
on connect, then a push on every change of state and each new message (no chain needed:
the network has no RPC configured, so next_action answers without reading one)."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator

from accounts.services import jwt_pair_issue
from core.consumers import POLL_SECONDS
from escrow import services
from escrow.models import Order
from escrow.tests.factories import UserFactory, order_without_chain

# Channels closes connections around database_sync_to_async: needs real transactions.
pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")
S = Order.State


@pytest.fixture(autouse=True)
def no_chains(settings):
    settings.CHAIN_NETWORKS = []


def _order() -> Order:
    return order_without_chain()


def connect(path: str, user=None, *, token: str | None = None):
    from config.asgi import application

    protocols = None
    if user is not None:
        protocols = ["bearer", jwt_pair_issue(user=user)["access"]]
    elif token is not None:
        protocols = ["bearer", token]
    return WebsocketCommunicator(application, path, headers=[ORIGIN], subprotocols=protocols)


def test_a_party_gets_the_order_then_each_state_change_and_message():
    # given
    order = _order()
    order = services.order_transition(order_id=order.pk, to=S.FUNDED, cause="test")
    buyer, seller = order.buyer, order.seller
    ws = connect(f"/ws/orders/{order.pk}/", seller)

    async def scenario():
        connected, subprotocol = await ws.connect()
        assert connected and subprotocol == "bearer"
        first = await ws.receive_json_from(timeout=5)
        # when: the seller ships, then the buyer writes
        await database_sync_to_async(services.order_ship)(
            order=order, actor=seller, tracking="Post 123"
        )
        shipped = await ws.receive_json_from(timeout=5)
        await database_sync_to_async(services.order_message_add)(
            order=order, author=buyer, body="Thanks!"
        )
        message = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return first, shipped, message

    first, shipped, message = async_to_sync(scenario)()
    # then
    assert first["type"] == "order"
    assert first["order"]["state"] == "funded" and first["order"]["role"] == "seller"
    assert first["order"]["next_action"]["action"] == "ship"
    assert shipped["order"]["state"] == "shipped"
    assert shipped["order"]["next_action"]["action"] == "wait"
    assert [h["to_state"] for h in shipped["order"]["history"]][-1] == "shipped"
    assert message["type"] == "message" and message["message"]["body"] == "Thanks!"


def test_a_change_made_in_another_process_arrives_by_polling(settings):
    # given: the in-memory layer cannot hear a worker; here the push is lost on purpose
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    order = _order()
    ws = connect(f"/ws/orders/{order.pk}/", order.buyer)

    async def scenario():
        await ws.connect()
        await ws.receive_json_from(timeout=5)
        with mock.patch.object(services, "group_send_on_commit"):
            await database_sync_to_async(services.order_transition)(
                order_id=order.pk, to=S.FUNDED, cause="deposit_confirmed"
            )
        polled = await ws.receive_json_from(timeout=POLL_SECONDS * 3)
        await ws.disconnect()
        return polled

    assert async_to_sync(scenario)()["order"]["state"] == "funded"


def test_nothing_is_pushed_for_a_write_that_rolls_back():
    # given
    order = _order()
    ws = connect(f"/ws/orders/{order.pk}/", order.buyer)

    async def scenario():
        await ws.connect()
        await ws.receive_json_from(timeout=5)
        await database_sync_to_async(_cancel_then_fail)(order)
        nothing = await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True
    order.refresh_from_db()
    assert order.state == S.CREATED


def _cancel_then_fail(order: Order) -> None:
    from django.db import transaction

    try:
        with transaction.atomic():
            services.order_transition(order_id=order.pk, to=S.CANCELLED, cause="test")
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass


@pytest.mark.parametrize("who", ["anonymous", "stranger", "staff", "bad_token", "no_order"])
def test_nobody_but_the_parties_may_subscribe(who):
    # given
    order = _order()
    path = f"/ws/orders/{order.pk}/"
    if who == "stranger":
        ws = connect(path, UserFactory())
    elif who == "staff":  # staff arbitrate in the admin, not through a party's live view
        ws = connect(path, UserFactory(is_staff=True))
    elif who == "bad_token":
        ws = connect(path, token="not-a-token")
    elif who == "no_order":
        ws = connect(f"/ws/orders/{uuid.uuid4()}/", order.buyer)
    else:
        ws = connect(path)

    # when
    connected, code = async_to_sync(ws.connect)()
    # then
    assert not connected
    assert code == (4401 if who in ("anonymous", "bad_token") else 4404)
