"""Numbers for people, the server-drawn price chart, and price history over a time range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from oracle.charts import Candle, nice_ticks, price_chart, time_ticks
from oracle.models import PriceCandle
from oracle.numbers import display_places, human
from oracle.selectors import CHART_POINTS, price_history


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [
        ("65000.00000000", 18, "65,000"),
        ("352.9411764705882352941176471", 6, "352.9412"),
        ("0.000588235294", 18, "0.0005882"),
        ("1234567.891", 18, "1,234,567.89"),
        ("1.5", 6, "1.5"),
        ("0", 18, "0"),
        ("-12.345678", 6, "-12.3457"),
        ("0.000001", 6, "0.000001"),  # an asset's last unit is shown, not rounded to 0
        ("0.0000004", 6, "0"),  # below the asset's places: cut as the API cuts it
    ],
)
def test_human_rounds_to_sensible_places_and_groups_digits(value, places, shown):
    # when
    with translation.override("en"):
        text = human(Decimal(value), places)
    # then
    assert text == shown


def test_human_writes_bengali_digits_and_lakh_grouping():
    # when
    with translation.override("bn"):
        text = human(Decimal("1234567.891"))
    # then
    assert text == "১২,৩৪,৫৬৭.৮৯"


def test_display_places_never_exceed_the_assets_places():
    # then
    assert display_places(Decimal("0.000123456"), 18) == 7
    assert display_places(Decimal("0.000123456"), 6) == 6
    assert display_places(Decimal("12.5"), 2) == 2


def test_num_filter_keeps_the_exact_value_in_the_title_and_value():
    # given
    template = Template("{% load numbers %}{{ v|num:6 }}")
    # when
    with translation.override("en"):
        html = template.render(Context({"v": Decimal("2050.123456000")}))
    # then
    assert html == '<data class="num" value="2050.123456" title="2050.123456">2,050.12</data>'


def test_nice_ticks_are_round_and_cover_the_range():
    # when
    ticks = nice_ticks(1972.3, 2034.8)
    # then
    assert ticks == [1980.0, 2000.0, 2020.0]


def _candles(n: int, start: datetime, step: timedelta, base: int = 2000) -> list[Candle]:
    out = []
    for i in range(n):
        price = Decimal(base + (i % 10))
        out.append(Candle(start + i * step, price, price + 1, price - 1, price))
    return out


def test_price_chart_has_axes_with_values_hover_titles_and_a_summary():
    # given
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    start = end - timedelta(hours=1)
    candles = _candles(60, start, timedelta(minutes=1))
    # when
    with translation.override("en"):
        chart = price_chart(candles, start=start, end=end, pair="ETH/TEST", places=6)
    # then
    assert chart is not None
    assert len(chart.y_ticks) >= 2 and all("," in t.label for t in chart.y_ticks)
    assert [t.label for t in chart.x_ticks] == ["11:10", "11:20", "11:30", "11:40", "11:50"]
    assert len(chart.hovers) == 60 and "(low 1,999, high 2,001)" in chart.hovers[0].title
    assert chart.summary.startswith("ETH/TEST from 30 Nov 11:00 to 30 Nov 12:00")
    assert chart.last == Decimal(2009)


def test_price_chart_needs_two_points():
    # given
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    # then
    assert price_chart([], start=end - timedelta(hours=1), end=end, pair="X", places=2) is None


def test_time_ticks_of_a_week_are_days():
    # given
    end = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    # when
    with translation.override("en"):
        ticks = time_ticks(end - timedelta(days=7), end)
    # then
    assert [t.label for t in ticks] == ["25 Nov", "27 Nov", "29 Nov"]
    assert 0 <= ticks[0].at < ticks[-1].at <= 100


def _store(pair: str, candles: list[Candle], interval: str = "1m") -> None:
    PriceCandle.objects.bulk_create(
        PriceCandle(
            pair=pair,
            interval=interval,
            start=c.start,
            open=c.open,
            high=c.high,
            low=c.low,
            close=c.close,
        )
        for c in candles
    )


@pytest.mark.django_db
def test_price_history_of_a_cross_pair_divides_by_a_fixed_quote(settings):
    # given: ETH-USD from the market, TEST-USD a fixed test price of 0.5
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": "0.5"}
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    _store("ETH-USD", _candles(30, now - timedelta(minutes=30), timedelta(minutes=1)))
    # when
    history = price_history(pair="ETH-TEST", range_key="1h", now=now)
    # then: every bucket doubled, oldest first
    assert len(history) == 30
    assert history[0].close == Decimal(4000) and history[1].close == Decimal(4002)
    assert history[0].high == Decimal(4002) and history[0].low == Decimal(3998)


@pytest.mark.django_db
def test_price_history_merges_long_ranges_and_skips_old_candles(settings):
    # given: two days of minute candles
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": "1.00"}
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    _store("ETH-USD", _candles(2 * 1440, now - timedelta(days=2), timedelta(minutes=1)))
    # when
    day = price_history(pair="ETH-USD", range_key="1d", now=now)
    # then
    assert len(day) <= CHART_POINTS
    assert day[0].start >= now - timedelta(days=1)
    assert max(c.high for c in day) == Decimal(2010)


@pytest.mark.django_db
def test_price_history_is_empty_for_a_coin_against_itself_and_for_fixed_prices(settings):
    # given
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": "1.00"}
    # then
    assert price_history(pair="ETH-ETH", range_key="1d") == []
    assert price_history(pair="TEST-USD", range_key="1d") == []
    assert price_history(pair="NOPE-USD", range_key="1d") == []
