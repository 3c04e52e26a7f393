"""The oracle end to end inside the app: refresh over HTTP, publish, read, convert, halt."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from oracle import selectors, services
from oracle.models import OracleAlert, PriceCandle, PricePoint
from oracle.sources import InMemoryBackoffStore, TokenBucket, build_sources
from testing.exchange_server import SOURCES, ExchangeTestServer

pytestmark = pytest.mark.django_db

# Every honest source quotes the same; Binance in USDT converted at exactly 1.0000.
PRICES = {"BTC": "67000", "ETH": "3000", "ICP": "12", "USDT": "1.0000"}


@pytest.fixture
def server():
    with ExchangeTestServer() as srv:
        for source in SOURCES:
            for base, price in PRICES.items():
                if source == "binance":
                    if base != "USDT":
                        srv.set_price(source, f"{base}-USDT", price)
                else:
                    srv.set_price(source, f"{base}-USD", price)
        yield srv


@pytest.fixture
def sources(server, settings):
    settings.ORACLE_SOURCE_URLS = {name: server.url for name in SOURCES}
    settings.ORACLE_HTTP_TIMEOUT = 5  # a local server; generous for a loaded machine
    settings.ORACLE_PAIRS = ["BTC-USD", "ETH-USD", "ICP-USD", "USDT-USD"]
    built = build_sources(
        backoff=InMemoryBackoffStore(), limiter=lambda name: TokenBucket(rate=1000, burst=1000)
    )
    yield built
    for adapter in built.values():
        adapter.close()


@pytest.fixture
def api():
    return APIClient()


def refresh(sources, now=None):
    return services.prices_refresh(sources=sources, now=now or timezone.now())


def test_refresh_publishes_each_pair_with_the_public_fields(
    sources, api, django_capture_on_commit_callbacks
):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources)
    body = api.get("/api/v1/prices/BTC-USD/").json()
    # then
    assert body["pair"] == "BTC-USD"
    assert body["price"] == "67000"
    assert body["status"] == "ok"
    assert {s["source"] for s in body["sources"]} == set(SOURCES)
    assert body["excluded"] == []
    assert body["spread_pct"] is not None
    assert body["updated_at"]
    assert PricePoint.objects.filter(pair="BTC-USD").count() == 1


def test_reads_never_call_a_source(sources, server, api, django_capture_on_commit_callbacks):
    # given
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources)
    before = len(server.requests)
    # when
    api.get("/api/v1/prices/")
    api.get("/api/v1/prices/ETH-ICP/")
    api.get("/api/v1/prices/convert/?from=ETH&to=ICP&amount=1.5")
    # then
    assert len(server.requests) == before


def test_cross_rate_and_conversion_are_exact_decimals(
    sources, api, django_capture_on_commit_callbacks
):
    # given
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources)
    # when
    cross = api.get("/api/v1/prices/ETH-ICP/").json()
    converted = api.get("/api/v1/prices/convert/?from=eth&to=ICP&amount=1.5").json()
    # then
    assert Decimal(cross["price"]) == Decimal("250")
    assert converted == {
        "from": "ETH",
        "to": "ICP",
        "amount": "1.5",
        "result": "375",
        "price": cross["price"],
        "status": "ok",
    }


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("from=ETH&to=ICP&amount=-1", 400, "min_value"),
        ("from=ETH&to=ICP&amount=abc", 400, "invalid"),
        ("from=ETH&to=ICP&amount=0", 400, "invalid"),
        ("from=ETH&to=ICP&amount=1.0000000000000000001", 400, "max_decimal_places"),
        ("from=ETH&to=NOPE&amount=1", 404, "unknown_pair"),
        ("from=&to=ICP&amount=1", 400, "invalid"),
    ],
)
def test_convert_refuses_bad_input_with_a_code(
    sources, api, query, status, code, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources)
    response = api.get(f"/api/v1/prices/convert/?{query}")
    assert response.status_code == status
    assert response.json()["code"] == code


def test_a_halted_pair_is_refused_for_conversion(
    sources, server, api, django_capture_on_commit_callbacks
):
    # given: only one source still answers for ICP
    for source in ("coinbase", "kraken", "binance"):
        server.clear_price(source, "ICP-USD" if source != "binance" else "ICP-USDT")
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources)
    # when
    price = api.get("/api/v1/prices/ICP-USD/").json()
    response = api.get("/api/v1/prices/convert/?from=ETH&to=ICP&amount=1")
    # then
    assert price["status"] == "halted"
    assert price["price"] is None
    assert response.status_code == 409
    assert response.json()["code"] == "pair_halted"
    assert selectors.pair_is_tradeable("ETH-ICP") is False
    assert selectors.pair_is_tradeable("ETH-USD") is True


def test_a_price_goes_stale_when_refreshes_stop(sources, django_capture_on_commit_callbacks):
    # given
    start = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources, now=start)
    # when: read after the quotes' maximum age
    later = selectors.price_get("ETH-USD", now=start + timedelta(seconds=200))
    # then
    assert later.status == "stale"
    assert later.price is None
    assert later.last_price == Decimal("3000")


def test_unknown_pair_is_404(api):
    response = api.get("/api/v1/prices/DOGE-USD/")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_pair"


def test_test_token_has_a_fixed_price_labelled_as_such(
    sources, api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources)
    body = api.get("/api/v1/prices/TEST-USD/").json()
    assert body["status"] == "ok"
    assert body["fixed"] is True
    assert body["price"] == "1.00"


def test_manual_halt_and_resume_are_audited(sources, api, django_capture_on_commit_callbacks):
    # given
    staff = get_user_model().objects.create_user(
        username="ops", password="x-123456789", is_staff=True
    )
    with django_capture_on_commit_callbacks(execute=True):
        refresh(sources)
        # when
        services.pair_halt(pair="ETH-USD", reason="exchange incident", user=staff)
    halted = api.get("/api/v1/prices/ETH-USD/").json()
    cross = api.get("/api/v1/prices/ETH-ICP/").json()
    with django_capture_on_commit_callbacks(execute=True):
        services.pair_resume(pair="ETH-USD", reason="incident over", user=staff)
    resumed = api.get("/api/v1/prices/ETH-USD/").json()
    # then
    assert (halted["status"], halted["halt_reason"], halted["price"]) == ("halted", "manual", None)
    assert "exchange incident" in halted["detail"]
    assert cross["status"] == "halted"
    assert resumed["status"] == "ok"
    kinds = list(OracleAlert.objects.filter(pair="ETH-USD").values_list("kind", "user__username"))
    assert ("manual_halt", "ops") in kinds and ("manual_resume", "ops") in kinds


def test_a_lying_source_is_excluded_and_alerted_once(
    sources, server, api, django_capture_on_commit_callbacks
):
    # given: Kraken lies by 10% on ETH
    server.set_price("kraken", "ETH-USD", "3300")
    # when: two rounds, each committed
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            refresh(sources)
    # then: the price is the truth, the liar excluded and alerted once
    body = api.get("/api/v1/prices/ETH-USD/").json()
    assert body["price"] == "3000"
    assert [(e["source"], e["reason"]) for e in body["excluded"]] == [("kraken", "deviation")]
    alerts = OracleAlert.objects.filter(pair="ETH-USD", kind="exclusion")
    assert list(alerts.values_list("source", "reason")) == [("kraken", "deviation")]
    metrics = api.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'oracle_alerts_total{kind="exclusion",pair="ETH-USD",reason="deviation"} 1.0' in metrics


def test_history_keeps_ohlc_candles(sources, server, api, django_capture_on_commit_callbacks):
    # given: three rounds in one minute at 3000, 3010, 2995
    if timezone.now().second > 50:  # stay inside one minute
        time.sleep(61 - timezone.now().second)
    for price in ["3000", "3010", "2995"]:
        for source in SOURCES:
            pair = "ETH-USDT" if source == "binance" else "ETH-USD"
            server.set_price(source, pair, price)
        with django_capture_on_commit_callbacks(execute=True):
            refresh(sources)
    # when
    body = api.get("/api/v1/prices/ETH-USD/history/?interval=1m").json()
    # then
    (candle,) = body["results"]
    assert (candle["open"], candle["high"], candle["low"], candle["close"]) == (
        "3000.000000000000000000",
        "3010.000000000000000000",
        "2995.000000000000000000",
        "2995.000000000000000000",
    )
    assert candle["samples"] == 3
    assert PriceCandle.objects.filter(pair="ETH-USD", interval="1h").count() == 1
    assert api.get("/api/v1/prices/ETH-USD/history/?interval=5m").status_code == 400


# Channels closes stale connections around database_sync_to_async, which a test wrapped
# in one transaction would not survive on PostgreSQL.
@pytest.mark.django_db(transaction=True)
def test_prices_are_pushed_over_the_websocket(sources):
    from asgiref.sync import async_to_sync

    from config.asgi import application

    async def scenario():
        ws = WebsocketCommunicator(
            application, "/ws/prices/", headers=[(b"origin", b"http://localhost")]
        )
        connected, _ = await ws.connect()
        assert connected
        snapshot = await ws.receive_json_from(timeout=5)
        from channels.db import database_sync_to_async

        def publish():
            refresh(sources)  # commits for real: on_commit broadcasts

        await database_sync_to_async(publish)()
        update = await ws.receive_json_from(timeout=5)
        await ws.disconnect()
        return snapshot, update

    snapshot, update = async_to_sync(scenario)()
    assert snapshot["type"] == "snapshot"
    assert update["type"] == "price"
    assert update["price"]["status"] in {"ok", "halted"}


def test_listing_every_price_costs_two_queries(sources, api, django_assert_num_queries):
    # given: prices published, one pair halted by hand
    services.pair_halt(pair="ETH-USD", reason="check", user=None)
    refresh(sources)
    # when / then: the asset registry and the manual halts, whatever the number of pairs
    with django_assert_num_queries(2):
        body = api.get("/api/v1/prices/").json()
    assert body["count"] >= 7
