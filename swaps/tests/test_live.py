"""The swap WebSocket: parties only (session or JWT), a push on every state change."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator

from accounts.services import jwt_pair_issue
from swaps import services
from swaps.tests.factories import make_swap, party

# Channels closes connections around database_sync_to_async: needs real transactions.
pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


def connect(path: str, headers=(), subprotocols=None):
    from config.asgi import application

    return WebsocketCommunicator(
        application, path, headers=[ORIGIN, *headers], subprotocols=subprotocols
    )


def test_a_party_gets_the_swap_then_every_change(swap_env):
    swap, _, _, (taker, _) = make_swap()
    token = jwt_pair_issue(user=taker)["access"]

    async def scenario():
        ws = connect(f"/ws/swaps/{swap.pk}/", subprotocols=["bearer", token])
        connected, subprotocol = await ws.connect()
        assert connected and subprotocol == "bearer"
        first = await ws.receive_json_from(timeout=5)
        await database_sync_to_async(services.swap_cancel)(swap_id=swap.pk, user=taker)
        pushed = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return first, pushed

    first, pushed = async_to_sync(scenario)()
    assert first["swap"]["state"] == "created" and first["swap"]["role"] == "taker"
    assert pushed["swap"]["state"] == "cancelled"


@pytest.mark.parametrize("who", ["anonymous", "stranger", "bad_token"])
def test_nobody_else_may_subscribe(swap_env, who):
    swap, *_ = make_swap()
    protocols = None
    if who == "stranger":
        protocols = ["bearer", jwt_pair_issue(user=party(3)[0])["access"]]
    elif who == "bad_token":
        protocols = ["bearer", "not-a-token"]

    async def scenario():
        ws = connect(f"/ws/swaps/{swap.pk}/", subprotocols=protocols)
        connected, code = await ws.connect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert not connected
    assert code == (4404 if who == "stranger" else 4401)
