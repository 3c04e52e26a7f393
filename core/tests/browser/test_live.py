"""Live updates come back after a network drop (static/js/live.js, used by the ticker), and
the market page follows its own price (issue 18, item 4)."""

from __future__ import annotations

import pytest

from .conftest import DESKTOP, PHONE, SCREENSHOTS, orm
from .server import TcpRelay
from .test_market import MARKET, market  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def relay(live):
    """The served app behind a relay whose connections the test can cut."""
    relay = TcpRelay(live.port)
    yield relay
    relay.close()


def _sockets(page) -> list:
    opened: list = []
    page.on("websocket", lambda ws: opened.append(ws) if "/ws/prices/" in ws.url else None)
    return opened


def test_the_ticker_reconnects_after_the_connection_drops(live, relay, browser):
    # given: the home page follows live prices
    page = browser.context().new_page()
    opened = _sockets(page)
    page.goto(f"{relay.url}/")
    ticker = page.locator("[data-ticker]")
    page.locator("[data-ticker][data-live-state=live]").wait_for()
    # when: every connection is cut, as when a phone changes networks
    assert relay.drop() > 0
    # then: it says so, then comes back on a new socket and is live again
    page.locator("[data-ticker][data-live-state=reconnecting]").wait_for()
    assert "Reconnecting" in ticker.locator("[data-ticker-state]").inner_text()
    page.locator("[data-ticker][data-live-state=live]").wait_for(timeout=10_000)
    assert len(opened) == 2 and opened[0].is_closed() and not opened[1].is_closed()
    assert ticker.locator("[data-ticker-state]").inner_text() == "Live"


def test_the_ticker_keeps_retrying_with_growing_waits_while_the_server_is_unreachable(
    live, relay, browser
):
    # given
    page = browser.context().new_page()
    opened = _sockets(page)
    page.goto(f"{relay.url}/")
    page.locator("[data-ticker][data-live-state=live]").wait_for()
    # when: the server cannot be reached for a while
    relay.refusing = True
    relay.drop()
    page.wait_for_timeout(4000)  # lets Playwright record the attempts meanwhile
    failed_attempts = len(opened) - 1
    relay.refusing = False
    # then: a few attempts (1 s doubling, halved at most by jitter: not one per 100 ms) ...
    assert 1 <= failed_attempts <= 4
    # ... and back to live once the server answers, without reloading the page
    page.locator("[data-ticker][data-live-state=live]").wait_for(timeout=20_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


def test_going_offline_and_online_reconnects_at_once(live, browser):
    # given
    context = browser.context()
    page = context.new_page()
    page.goto(f"{live.url}/")
    page.locator("[data-ticker][data-live-state=live]").wait_for()
    # when
    context.set_offline(True)
    page.locator("[data-ticker][data-live-state=offline]").wait_for()
    offline_text = page.locator("[data-ticker-state]").inner_text()
    context.set_offline(False)
    # then
    page.locator("[data-ticker][data-live-state=live]").wait_for(timeout=5_000)
    assert "You are offline" in offline_text


def _move_eth(price: str) -> None:
    from decimal import Decimal

    from django.test import TestCase
    from django.utils import timezone

    from oracle.aggregation import fixed_price
    from oracle.services import price_publish

    with TestCase.captureOnCommitCallbacks(execute=True):
        agg = fixed_price(pair="ETH-USD", price=Decimal(price), now=timezone.now())
        price_publish(aggregate=agg, previous=None)


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_the_market_page_follows_its_price_live(
    live,
    browser,
    market,  # noqa: F811
    label,
    viewport,
):
    # given: the ETH / TEST market (ETH-USD over the fixed TEST-USD) open and live
    context = browser.context(viewport=viewport)
    page = context.new_page()
    opened = _sockets(page)
    page.goto(f"{live.url}{MARKET}")
    oracle = page.locator("[data-oracle-pair=ETH-TEST]")
    page.locator("[data-oracle-pair=ETH-TEST][data-live-state=live]").wait_for()
    assert oracle.locator("[data-market-price]").inner_text() == "2,000"
    # when: ETH moves on the oracle
    orm(_move_eth, "2100")
    # then: the page shows the new price without reloading, the exact value on hover
    page.locator("[data-market-price] data[value='2100']").wait_for(timeout=10_000)
    assert oracle.locator("[data-market-price]").inner_text() == "2,100"
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert len(opened) == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"market-live-{label}.png")
    context.close()
    assert browser.console_errors == []
