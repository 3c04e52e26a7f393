"""Hundreds of live price sockets in one process, over the Redis channel layer: every one
connects, and every one receives a stored price (issue 15, "Live prices").

The list-based RedisChannelLayer failed here: each socket's group_add and group_discard took a
connection from a pool of 100, so a few hundred sockets joining at once raised
MaxConnectionsError and lost their sockets (bench/prices.py found it at 500). The pub/sub
layer subscribes a group once per process.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from oracle.aggregation import fixed_price
from oracle.services import price_publish

SOCKETS = 300

pytestmark = [
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs the Redis channel layer (REDIS_URL)"),
    pytest.mark.django_db(transaction=True),
]


def _publish(price: str) -> None:
    price_publish(
        aggregate=fixed_price(pair="ETH-USD", price=Decimal(price), now=timezone.now()),
        previous=None,
    )


def test_hundreds_of_sockets_join_at_once_and_each_receives_the_stored_price(settings):
    from config.asgi import application

    settings.ORACLE_PAIRS = ["ETH-USD"]

    async def scenario():
        sockets = [
            WebsocketCommunicator(
                application, "/ws/prices/", headers=[(b"origin", b"http://localhost")]
            )
            for _ in range(SOCKETS)
        ]
        # when: every socket joins at once
        joined = await asyncio.gather(*(ws.connect(timeout=60) for ws in sockets))
        snapshots = await asyncio.gather(*(ws.receive_json_from(timeout=60) for ws in sockets))
        # and a price is stored
        await database_sync_to_async(_publish)("2345.67")
        pushed = await asyncio.gather(*(ws.receive_json_from(timeout=60) for ws in sockets))
        await asyncio.gather(*(ws.disconnect(timeout=60) for ws in sockets))
        return joined, snapshots, pushed

    joined, snapshots, pushed = async_to_sync(scenario)()
    # then
    assert all(ok for ok, _ in joined)
    assert {s["type"] for s in snapshots} == {"snapshot"}
    assert [(p["type"], p["price"]["pair"], p["price"]["price"]) for p in pushed] == [
        ("price", "ETH-USD", "2345.67")
    ] * SOCKETS
