"""The market page as a trading layout (issue 18, items 7 and 9): both sides of the book with
the makers' public records, a depth chart, a price chart with axes and a time range, the take
form beside them on a desktop and always in reach on a phone; numbers for people with the
exact value on hover; in English and Bengali, light and dark. Screenshots: var/screenshots/.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from .conftest import DESKTOP, PHONE, SCREENSHOTS, orm, signed_in_cookie
from .test_pages import SMOKE_CHECK

pytestmark = pytest.mark.slow

MARKET = "/market/ETH@local-a/TEST@local-b/"


def _seed() -> dict:
    """Two makers with records, three sell offers and two buy offers (the reverse market),
    a day of ETH-USD minute candles, and a taker with a wallet."""
    from django.core.cache import cache
    from django.test import TestCase
    from django.utils import timezone

    from accounts.models import Reputation
    from accounts.tests.factories import UserFactory, WalletFactory
    from marketplace.tests.factories import ListingFactory, eth_asset, token_asset
    from oracle.aggregation import fixed_price
    from oracle.models import PriceCandle
    from oracle.selectors import cache_key
    from oracle.services import price_publish

    eth, test = eth_asset("local-a"), token_asset("local-b")
    alice = UserFactory(display_name="Alice Rahman", kyc_level="verified")
    Reputation.objects.create(
        user=alice, completed_swaps=41, failed_swaps=1, volume_usd=Decimal("123456.78")
    )
    bob = UserFactory(display_name="Bob", kyc_level="basic")
    Reputation.objects.create(user=bob, completed_swaps=3, volume_usd=Decimal("950.5"))
    carol = UserFactory(display_name="Carol")
    asks = [
        ListingFactory(maker=alice, price=Decimal("1999.5"), amount=Decimal("2.5")),
        ListingFactory(maker=bob, price=Decimal("2010"), amount=Decimal("1.25")),
        ListingFactory(maker=carol, price=Decimal("2050.123456"), amount=Decimal("0.75")),
    ]
    bids = [
        ListingFactory(
            maker=bob,
            base_asset=test,
            quote_asset=eth,
            price=Decimal("0.000502512562814070"),  # pays 1990 TEST per ETH
            amount=Decimal("3000"),
            min_trade=Decimal("100"),
            max_trade=Decimal("1500"),
        ),
        ListingFactory(
            maker=alice,
            base_asset=test,
            quote_asset=eth,
            price=Decimal("0.000505050505050505"),  # pays 1980 TEST per ETH
            amount=Decimal("1980"),
            min_trade=Decimal("10"),
            max_trade=Decimal("1980"),
        ),
    ]
    # ETH-USD as a market pair with a day of minute candles; TEST-USD a fixed test price.
    now = timezone.now().replace(second=0, microsecond=0)
    PriceCandle.objects.filter(pair="ETH-USD").delete()
    candles = []
    for i in range(24 * 60):
        start = now - timedelta(minutes=24 * 60 - 1 - i)
        close = Decimal(2000 + 25 * math.sin(i / 120) + (i % 7)).quantize(Decimal("0.01"))
        candles.append(
            PriceCandle(
                pair="ETH-USD",
                interval="1m",
                start=start,
                open=close,
                high=close + 3,
                low=close - 3,
                close=close,
            )
        )
    PriceCandle.objects.bulk_create(candles)
    cache.delete(cache_key("ETH-USD"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        for pair, price in (("ETH-USD", "2000"), ("TEST-USD", "1.00")):
            agg = fixed_price(pair=pair, price=Decimal(price), now=timezone.now())
            price_publish(aggregate=agg, previous=None)
    taker = WalletFactory(user=UserFactory(display_name="Rahima Begum")).user
    return {
        "asks": [a.pk for a in asks],
        "bids": [b.pk for b in bids],
        "alice": alice.pk,
        "taker": taker,
    }


@pytest.fixture
def market(live, settings):
    # ETH-USD is read as a market pair (candles), TEST-USD as the fixed test price.
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": "1.00"}
    data = orm(_seed)
    data["cookie"] = orm(signed_in_cookie, data["taker"], live.url)
    return data


def _box(page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box


def _open(browser, live, market, *, viewport, lang="en", dark=False, path=MARKET):
    context = browser.context(viewport=viewport, color_scheme="dark" if dark else "light")
    context.add_cookies([market["cookie"]])
    if lang != "en":
        context.add_cookies([{"name": "django_language", "value": lang, "url": live.url}])
    page = context.new_page()
    response = page.goto(f"{live.url}{path}")
    assert response is not None and response.status == 200
    page.wait_for_load_state("networkidle")
    return context, page


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_market_on_a_desktop_shows_chart_both_sides_and_the_take_form_side_by_side(
    live, browser, market
):
    # when
    context, page = _open(browser, live, market, viewport=DESKTOP)
    _shoot(page, "market-desktop")
    # then: chart, depth, both sides and the take form in one screen, side by side
    chart, depth = _box(page, ".trade-chart"), _box(page, ".trade-depth")
    asks, bids, take = _box(page, ".trade-asks"), _box(page, ".trade-bids"), _box(page, "#take")
    assert chart["x"] < depth["x"] < take["x"] and abs(chart["y"] - depth["y"]) < 2
    assert asks["x"] < bids["x"] < take["x"] and abs(asks["y"] - bids["y"]) < 2
    assert asks["y"] > chart["y"]
    assert take["y"] < DESKTOP["height"] and asks["y"] < DESKTOP["height"]
    # filters inline: one row above the layout
    fields = page.locator(".filters-inline input:not([type=hidden]), .filters-inline select")
    tops = {round(fields.nth(i).bounding_box()["y"]) for i in range(fields.count())}
    assert fields.count() >= 5 and len(tops) == 1
    # both sides: asks sell ETH, bids are the reverse market's listings read as buying ETH
    ask_rows = page.locator(".trade-asks tr[data-side=ask]")
    bid_rows = page.locator(".trade-bids tr[data-side=bid]")
    assert ask_rows.count() == 3 and bid_rows.count() == 2
    assert ask_rows.first.get_attribute("data-listing") == str(market["asks"][0])  # cheapest
    assert bid_rows.first.get_attribute("data-listing") == str(market["bids"][0])  # pays most
    assert bid_rows.first.locator("[data-price]").inner_text() == "1,990"
    # each offer: its networks, the maker's public record and a link to their page
    first = ask_rows.first
    assert first.locator("[data-networks]").inner_text() == "local-a → local-b"
    record = first.locator("[data-reputation]").inner_text()
    assert "41 done" in record and "1 failed" in record and "123,456.78 USD" in record
    assert "since" in record
    assert first.locator("[data-kyc]").inner_text() == "fully verified"
    assert first.get_by_role("link", name="Alice Rahman").get_attribute("href") == (
        f"/u/{market['alice']}/"
    )
    # numbers for people, the exact value on hover
    price = first.locator("[data-price] data")
    assert price.inner_text() == "1,999.5" and price.get_attribute("title") == "1999.5"
    third = page.locator(f"tr[data-listing='{market['asks'][2]}'] [data-price] data")
    assert third.inner_text() == "2,050.12" and third.get_attribute("title") == "2050.123456"
    # the price chart has axes with values, and a time range
    svg = page.locator("[data-price-chart]")
    assert svg.locator("[data-y-tick]").count() >= 3 and svg.locator("[data-x-tick]").count() >= 3
    labels = svg.locator("[data-y-tick]").all_text_contents()
    assert all(re.fullmatch(r"[12],\d{3}", label) for label in labels), labels
    assert page.locator("#price-chart [data-range='1d'][aria-current=true]").count() == 1
    # the depth chart draws both sides
    assert page.locator("[data-depth='ask']").count() == 1
    assert page.locator("[data-depth='bid']").count() == 1
    # the take form is the best offer's
    assert "Offer #" in page.locator("#take-panel-heading").inner_text()
    assert page.locator("#take-form").is_visible()
    assert page.evaluate(SMOKE_CHECK) == []
    context.close()
    assert browser.console_errors == []


def test_market_chart_range_changes_in_place_and_another_offer_can_be_chosen(live, browser, market):
    # given
    context, page = _open(browser, live, market, viewport=DESKTOP)
    # when: the 1 h range (htmx swaps the chart alone)
    page.locator("#price-chart [data-range='1h']").click()
    page.locator("#price-chart [data-range='1h'][aria-current=true]").wait_for()
    # then
    assert "range=1h" in page.url
    assert page.locator("[data-price-chart] [data-x-tick]").count() >= 3
    # when: the second sell offer is chosen
    second = market["asks"][1]
    page.locator(f"tr[data-listing='{second}']").get_by_role("link", name="Buy").click()
    page.wait_for_url(f"**take={second}**")
    # then: the take panel shows it, and the range was kept
    assert page.locator("#take-panel-heading").inner_text().startswith(f"Offer #{second}")
    assert page.locator(f"tr[data-listing='{second}'][aria-current=true]").count() == 1
    assert "range=1h" in page.url
    context.close()
    assert browser.console_errors == []


def test_market_on_a_phone_stacks_and_keeps_the_take_action_in_reach(live, browser, market):
    # when
    context, page = _open(browser, live, market, viewport=PHONE)
    _shoot(page, "market-phone")
    # then: one column, chart then sell offers then buy offers
    chart, asks = _box(page, ".trade-chart"), _box(page, ".trade-asks")
    bids = _box(page, ".trade-bids")
    assert abs(chart["x"] - asks["x"]) < 2 and chart["y"] < asks["y"] < bids["y"]
    assert page.locator("[data-filters]").get_attribute("open") is None  # folded on a phone
    # the take action stays at the bottom of the screen while the book scrolls
    for selector in (".trade-asks", ".trade-bids"):
        page.locator(selector).scroll_into_view_if_needed()
        bar = page.locator("[data-take-bar]").bounding_box()
        assert (
            bar is not None
            and PHONE["height"] - 120 < bar["y"] + bar["height"] <= PHONE["height"] + 1
        )
    page.locator("[data-take-bar]").get_by_role("link", name="Take offer").click()
    page.wait_for_function("location.hash === '#take'")
    assert page.locator("#take-form").is_visible()
    assert page.evaluate(SMOKE_CHECK) == []
    context.close()
    assert browser.console_errors == []


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_market_in_bengali_writes_numbers_in_bengali(live, browser, market, label, viewport):
    # when
    context, page = _open(browser, live, market, viewport=viewport, lang="bn")
    _shoot(page, f"market-bn-{label}")
    # then
    assert page.locator("html").get_attribute("lang") == "bn"
    assert "বাজার" in page.locator("h1").inner_text()
    price = page.locator(f"tr[data-listing='{market['asks'][0]}'] [data-price] data")
    assert price.inner_text() == "১,৯৯৯.৫" and price.get_attribute("title") == "1999.5"
    assert page.evaluate(SMOKE_CHECK) == []
    context.close()
    assert browser.console_errors == []


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_market_in_dark_mode_follows_the_system(live, browser, market, label, viewport):
    # when
    context, page = _open(browser, live, market, viewport=viewport, dark=True)
    _shoot(page, f"market-dark-{label}")
    # then: a dark background, light text
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    text = page.evaluate("getComputedStyle(document.body).color")
    assert background == "rgb(13, 17, 23)" and text == "rgb(230, 237, 243)"
    assert page.evaluate(SMOKE_CHECK) == []
    context.close()


@pytest.mark.parametrize("lang", ["en", "bn"])
@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_home_chart_has_axes_and_changes_range_in_place(
    live, browser, market, label, viewport, lang
):
    # given
    context, page = _open(
        browser, live, market, viewport=viewport, lang=lang, path="/?chart=ETH-USD"
    )
    svg = page.locator("#home-chart [data-price-chart]")
    assert svg.locator("[data-y-tick]").count() >= 3 and svg.locator("[data-x-tick]").count() >= 3
    page.screenshot(path=SCREENSHOTS / f"home-chart-{lang}-{label}.png", full_page=True)
    # when: a shorter range (htmx swaps the chart alone)
    page.locator("#chart-range").select_option("1h")
    page.locator("#home-chart [data-chart-range] option[value='1h'][selected]").wait_for(
        state="attached"
    )
    # then: minutes on the time axis, in the page's digits
    ticks = page.locator("#home-chart [data-x-tick]").all_text_contents()
    digits = r"[0-9]" if lang == "en" else r"[০-৯]"
    assert ticks and all(re.fullmatch(rf"{digits}{{2}}:{digits}{{2}}", t) for t in ticks), ticks
    assert page.evaluate(SMOKE_CHECK) == []
    context.close()
    assert browser.console_errors == []


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_form_errors_sit_beside_their_fields(live, browser, market, label, viewport):
    # given
    context, page = _open(browser, live, market, viewport=viewport, path="/listings/new/")
    # when: nothing filled in
    page.get_by_role("button", name="Create listing").click()
    page.locator(".errorlist").first.wait_for()
    page.screenshot(path=SCREENSHOTS / f"form-errors-{label}.png", full_page=True)
    # then: each error is in its field's own group, right above the field, linked to it
    amount = page.locator("#id_amount")
    error = page.locator("#id_amount_error")
    assert amount.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("id") in amount.get_attribute("aria-describedby")
    field, message = amount.bounding_box(), error.bounding_box()
    assert 0 <= field["y"] - (message["y"] + message["height"]) < 16
    group = page.locator("[data-field=amount]")
    assert group.evaluate("(el) => getComputedStyle(el).borderLeftStyle") == "solid"
    assert page.evaluate(SMOKE_CHECK) == []
    context.close()


@pytest.mark.parametrize("lang", ["en", "bn"])
@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_listing_and_market_list_pages(live, browser, market, label, viewport, lang):
    for name, path in (("listing", f"/listings/{market['asks'][0]}/"), ("markets", "/market/")):
        # when
        context, page = _open(browser, live, market, viewport=viewport, lang=lang, path=path)
        page.screenshot(path=SCREENSHOTS / f"{name}-{lang}-{label}.png", full_page=True)
        # then
        assert page.evaluate(SMOKE_CHECK) == [], f"{path} at {label} in {lang}"
        if name == "listing":
            assert page.locator("#take-form").is_visible()
            maker = page.get_by_role("link", name="Alice Rahman")
            assert maker.get_attribute("href") == f"/u/{market['alice']}/"
        context.close()
    assert browser.console_errors == []
