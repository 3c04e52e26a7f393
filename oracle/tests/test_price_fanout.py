"""One price update to many ``/ws/prices/`` sockets costs each socket next to nothing
(issue #15: p95 under 200 ms from the store to 500 sockets).

Before, every socket encoded the frame itself, and Channels sent every socket through the one
thread that database calls share (to close stale connections) before its handler ran: 500
sockets queued there for each update.
"""

from __future__ import annotations

import asyncio
import json
import threading
from decimal import Decimal
from unittest import mock

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing.websocket import WebsocketCommunicator
from django.core.cache import cache
from django.utils import timezone

from oracle import consumers, live, selectors
from oracle.aggregation import fixed_price
from oracle.selectors import cache_key
from oracle.services import PRICES_GROUP, price_publish

SOCKETS = 50

# Channels closes stale connections around database_sync_to_async, which a test wrapped
# in one transaction would not survive on PostgreSQL.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eth(settings, monkeypatch):
    settings.ORACLE_PAIRS = ["ETH-USD"]
    settings.ORACLE_FIXED_PRICES = {}
    settings.ORACLE_CROSS_PAIRS = []
    # The in-memory layer's fallback poll would send what it finds on its own; not tested here.
    monkeypatch.setattr(consumers, "POLL_SECONDS", 3600.0)
    cache.delete(cache_key("ETH-USD"))
    yield
    cache.delete(cache_key("ETH-USD"))


def _publish(price: str) -> None:
    price_publish(
        aggregate=fixed_price(pair="ETH-USD", price=Decimal(price), now=timezone.now()),
        previous=None,
    )


def _sockets(n: int) -> list[WebsocketCommunicator]:
    from config.asgi import application

    return [
        WebsocketCommunicator(
            application, "/ws/prices/", headers=[(b"origin", b"http://localhost")]
        )
        for _ in range(n)
    ]


async def _open(sockets: list[WebsocketCommunicator]) -> None:
    joined = await asyncio.gather(*(ws.connect(timeout=30) for ws in sockets))
    assert all(ok for ok, _ in joined)
    snapshots = await asyncio.gather(*(ws.receive_json_from(timeout=30) for ws in sockets))
    assert {s["type"] for s in snapshots} == {"snapshot"}


def test_price_publish_broadcasts_the_frame_encoded_once(eth, django_capture_on_commit_callbacks):
    # given
    with mock.patch("oracle.services.group_send") as group_send:
        # when
        with django_capture_on_commit_callbacks(execute=True):
            _publish("2345.67")
    # then: the event carries the price and the frame the sockets forward as it is
    ((group, event),) = [c.args for c in group_send.call_args_list]
    assert group == PRICES_GROUP
    assert event["type"] == "price.update"
    assert event["price"]["pair"] == "ETH-USD" and event["price"]["price"] == "2345.67"
    assert json.loads(event["text"]) == {"type": "price", "price": event["price"]}


def test_a_price_update_to_many_sockets_is_encoded_once(eth):
    frames = []
    dumps = json.dumps

    def counting_dumps(obj, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("type") == "price":
            frames.append(obj)
        return dumps(obj, *args, **kwargs)

    async def scenario():
        await database_sync_to_async(_publish)("2000")
        sockets = _sockets(SOCKETS)
        await _open(sockets)
        # when
        with mock.patch("json.dumps", counting_dumps):
            await database_sync_to_async(_publish)("2345.67")
            pushed = await asyncio.gather(*(ws.receive_from(timeout=30) for ws in sockets))
        await asyncio.gather(*(ws.disconnect(timeout=30) for ws in sockets))
        return pushed

    pushed = async_to_sync(scenario)()
    # then: one encoding, the same text in every socket, the public shape
    assert len(frames) == 1
    assert len(set(pushed)) == 1 and len(pushed) == SOCKETS
    message = json.loads(pushed[0])
    assert message["type"] == "price"
    assert (message["price"]["pair"], message["price"]["price"]) == ("ETH-USD", "2345.67")


def test_a_price_update_reaches_every_socket_while_the_database_thread_is_busy(eth):
    async def scenario():
        await database_sync_to_async(_publish)("2345.67")
        shown = await database_sync_to_async(lambda: selectors.price_get("ETH-USD").as_dict())()
        sockets = _sockets(SOCKETS)
        await _open(sockets)
        # given: the thread every database call (and Channels' closing of stale connections)
        # runs in is busy
        gate = threading.Event()
        busy = asyncio.ensure_future(sync_to_async(gate.wait, thread_sensitive=True)())
        try:
            # when: an update arrives
            await get_channel_layer().group_send(PRICES_GROUP, live.price_update(shown))
            pushed = await asyncio.gather(*(ws.receive_json_from(timeout=5) for ws in sockets))
        finally:
            gate.set()
            await busy
        await asyncio.gather(*(ws.disconnect(timeout=30) for ws in sockets))
        return shown, pushed

    shown, pushed = async_to_sync(scenario)()
    # then: every socket had it without waiting for that thread
    assert pushed == [{"type": "price", "price": shown}] * SOCKETS


def test_an_update_from_a_publisher_without_the_frame_is_still_sent(eth):
    # given: an event as the publisher sent it before it encoded the frame (a rolling restart)
    async def scenario():
        await database_sync_to_async(_publish)("2345.67")
        shown = await database_sync_to_async(lambda: selectors.price_get("ETH-USD").as_dict())()
        (ws,) = _sockets(1)
        await _open([ws])
        # when
        await get_channel_layer().group_send(PRICES_GROUP, {"type": "price.update", "price": shown})
        pushed = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return shown, pushed

    shown, pushed = async_to_sync(scenario)()
    # then
    assert pushed == {"type": "price", "price": shown}
