"""The live price socket carries a page's own cross pair when asked (``?pairs=``): a market
page for ETH against TEST follows ETH-USD over TEST-USD as it moves (issue 18, item 4)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.core.cache import cache
from django.utils import timezone

from oracle import consumers, selectors
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


def _counting_extra_reads(monkeypatch, pair: str) -> list[list[str]]:
    """The reads of `pair` alone (as a socket that named it reads its extra pairs)."""
    reads: list[list[str]] = []
    price_list = selectors.price_list

    def counting(*, pairs=None, now=None):
        if pairs == [pair]:
            reads.append(pairs)
        return price_list(pairs=pairs, now=now)

    monkeypatch.setattr(selectors, "price_list", counting)
    return reads


def _market_sockets(n: int) -> list[WebsocketCommunicator]:
    from config.asgi import application

    return [
        WebsocketCommunicator(
            application, "/ws/prices/?pairs=eth-test", headers=[(b"origin", b"http://localhost")]
        )
        for _ in range(n)
    ]


@pytest.mark.django_db(transaction=True)
def test_sockets_naming_the_same_pair_share_one_read_of_it_per_update(legs, monkeypatch):
    # The in-memory layer's fallback poll reads on its own; not what is counted here.
    monkeypatch.setattr(consumers, "POLL_SECONDS", 3600.0)
    reads = _counting_extra_reads(monkeypatch, "ETH-TEST")

    async def scenario():
        await database_sync_to_async(_publish)("ETH-USD", "2000")
        await database_sync_to_async(_publish)("TEST-USD", "2.00")
        sockets = _market_sockets(20)
        assert all(ok for ok, _ in await asyncio.gather(*(ws.connect() for ws in sockets)))
        await asyncio.gather(*(ws.receive_json_from(timeout=10) for ws in sockets))
        reads.clear()
        # when: the ETH leg moves
        await database_sync_to_async(_publish)("ETH-USD", "2100")
        updates = await asyncio.gather(*(_two(ws) for ws in sockets))
        await asyncio.gather(*(ws.disconnect(timeout=10) for ws in sockets))
        return updates

    updates = async_to_sync(scenario)()
    # then: one read for the twenty sockets, and each one still had the leg and the cross
    assert len(reads) == 1
    shown = {tuple((u["price"]["pair"], u["price"]["price"]) for u in two) for two in updates}
    assert len(shown) == 1
    ((leg, cross),) = shown
    assert leg[0] == "ETH-USD" and cross[0] == "ETH-TEST" and Decimal(cross[1]) == Decimal(1050)


async def _two(ws: WebsocketCommunicator) -> list[dict]:
    return [await ws.receive_json_from(timeout=10) for _ in range(2)]


@pytest.mark.django_db(transaction=True)
def test_a_socket_closing_during_a_shared_read_leaves_the_others_their_update(legs, monkeypatch):
    monkeypatch.setattr(consumers, "POLL_SECONDS", 3600.0)

    async def scenario():
        await database_sync_to_async(_publish)("ETH-USD", "2000")
        await database_sync_to_async(_publish)("TEST-USD", "2.00")
        leaving, staying = _market_sockets(2)
        for ws in (leaving, staying):
            assert (await ws.connect())[0]
            await ws.receive_json_from(timeout=10)
        gate = threading.Event()

        def publish_then_hold() -> None:
            _publish("ETH-USD", "2100")
            gate.wait()  # the database thread stays busy: both sockets wait for their read

        held = asyncio.ensure_future(database_sync_to_async(publish_then_hold)())
        for ws in (leaving, staying):
            assert (await ws.receive_json_from(timeout=10))["price"]["pair"] == "ETH-USD"
        # when: one of them closes while both wait for the shared read
        with contextlib.suppress(TimeoutError):
            await leaving.disconnect(timeout=0.2)
        gate.set()
        await held
        cross = await staying.receive_json_from(timeout=10)
        await staying.disconnect()
        return cross

    cross = async_to_sync(scenario)()
    # then: the other still had the cross
    assert cross["price"]["pair"] == "ETH-TEST"
    assert Decimal(cross["price"]["price"]) == Decimal(1050)
