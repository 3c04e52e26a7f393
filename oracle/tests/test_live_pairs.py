"""The live price socket carries a page's own cross pair when asked (``?pairs=``): a market
page for ETH against TEST follows ETH-USD over TEST-USD as it moves (issue 18, item 4)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.core.cache import cache
from django.utils import timezone

from oracle.aggregation import fixed_price
from oracle.consumers import MAX_EXTRA_PAIRS, extra_pairs
from oracle.selectors import cache_key
from oracle.services import price_publish


@pytest.fixture
def legs(settings):
    settings.ORACLE_PAIRS = ["ETH-USD"]
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": "2.00"}
    settings.ORACLE_CROSS_PAIRS = []
    for pair in ("ETH-USD", "TEST-USD"):
        cache.delete(cache_key(pair))
    yield
    for pair in ("ETH-USD", "TEST-USD"):
        cache.delete(cache_key(pair))


def _publish(pair: str, price: str) -> None:
    price_publish(
        aggregate=fixed_price(pair=pair, price=Decimal(price), now=timezone.now()), previous=None
    )


def test_extra_pairs_keeps_well_formed_pairs_once_and_at_most_a_few():
    # when
    many = b"".join(b"A%d-B," % i for i in range(9))
    named = extra_pairs(b"pairs=eth-test,ETH-TEST,,bad!pair&pairs=BTC-ICP," + many)
    # then
    assert named[:2] == ["ETH-TEST", "BTC-ICP"] and len(named) == MAX_EXTRA_PAIRS
    assert extra_pairs(b"") == [] and extra_pairs(b"pairs=%3Cscript%3E") == []


# Channels closes stale connections around database_sync_to_async, which a test wrapped
# in one transaction would not survive on PostgreSQL.
@pytest.mark.django_db(transaction=True)
def test_a_named_cross_pair_is_in_the_snapshot_and_follows_its_legs(legs):
    from config.asgi import application

    async def scenario():
        await database_sync_to_async(_publish)("ETH-USD", "2000")
        await database_sync_to_async(_publish)("TEST-USD", "2.00")
        ws = WebsocketCommunicator(
            application, "/ws/prices/?pairs=eth-test", headers=[(b"origin", b"http://localhost")]
        )
        connected, _ = await ws.connect()
        assert connected
        snapshot = await ws.receive_json_from(timeout=5)
        # when: the ETH leg moves
        await database_sync_to_async(_publish)("ETH-USD", "2100")
        updates = [await ws.receive_json_from(timeout=5) for _ in range(2)]
        await ws.disconnect()
        return snapshot, updates

    snapshot, updates = async_to_sync(scenario)()
    # then: the snapshot has the cross; the leg's update is followed by the cross's
    shown = {p["pair"]: p for p in snapshot["prices"]}
    assert Decimal(shown["ETH-TEST"]["price"]) == Decimal("1000")
    assert [u["price"]["pair"] for u in updates] == ["ETH-USD", "ETH-TEST"]
    assert Decimal(updates[1]["price"]["price"]) == Decimal("1050")


@pytest.mark.django_db(transaction=True)
def test_without_a_named_pair_the_socket_carries_no_unconfigured_cross(legs):
    from config.asgi import application

    async def scenario():
        await database_sync_to_async(_publish)("ETH-USD", "2000")
        await database_sync_to_async(_publish)("TEST-USD", "2.00")
        ws = WebsocketCommunicator(
            application, "/ws/prices/", headers=[(b"origin", b"http://localhost")]
        )
        connected, _ = await ws.connect()
        snapshot = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return snapshot

    snapshot = async_to_sync(scenario)()
    # then
    assert {p["pair"] for p in snapshot["prices"]} == {"ETH-USD", "TEST-USD"}
