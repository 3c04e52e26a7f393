"""The guard rules of ``oracle.aggregation``: pure functions over quotes."""

from __future__ import annotations

import runpy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from oracle import conf
from oracle.aggregation import (
    Aggregate,
    Rules,
    Status,
    aggregate,
    as_of,
    cross,
    fixed_aggregate,
    fixed_price,
    median,
)
from oracle.sources.base import Quote, SourceFailure

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
RULES = Rules(
    max_age=timedelta(seconds=30),
    max_deviation_pct=Decimal("2"),
    quorum=3,
    degraded_min=2,
    halt_spread_pct=Decimal("5"),
    max_jump_pct=Decimal("10"),
    jump_window=timedelta(seconds=60),
    max_clock_skew=timedelta(seconds=5),
    source_max_age={"coingecko": timedelta(seconds=120)},
)


def q(source: str, price: str, *, age: float = 1, pair: str = "BTC-USD") -> Quote:
    at = NOW - timedelta(seconds=age)
    return Quote(source=source, pair=pair, price=Decimal(price), observed_at=at, fetched_at=at)


def agg(quotes, *, pair="BTC-USD", failures=(), previous=None, now=NOW, rules=RULES):
    return aggregate(
        pair=pair, quotes=quotes, failures=failures, previous=previous, now=now, rules=rules
    )


def published(price: str, *, at: datetime, pair: str = "BTC-USD") -> Aggregate:
    """An ok aggregate of three sources at ``price``, computed at ``at``."""
    quotes = [q(s, price, pair=pair, age=(NOW - at).total_seconds()) for s in "abc"]
    return agg(quotes, pair=pair, now=at)


# --------------------------------------------------------------------------- median


def test_aggregate_price_is_the_median_of_an_odd_count():
    # given
    quotes = [q("coinbase", "67010.01"), q("kraken", "67000.5"), q("binance", "66990")]
    # when
    result = agg(quotes)
    # then
    assert result.price == Decimal("67000.5")
    assert result.status == Status.OK


def test_aggregate_price_is_the_mean_of_the_middle_two_of_an_even_count():
    # given
    quotes = [q(s, p) for s, p in zip("abcd", ["100", "100.2", "100.4", "101"], strict=True)]
    # when
    result = agg(quotes)
    # then
    assert result.price == Decimal("100.3")
    assert isinstance(result.price, Decimal)


def test_median_keeps_full_decimal_precision():
    # given
    values = [Decimal("67187.335792649571234567"), Decimal("67187.335792649571234569")]
    # when / then
    assert median(values) == Decimal("67187.335792649571234568")


def test_aggregate_lists_used_sources_with_price_and_time():
    # given
    quotes = [q("kraken", "100", age=3), q("coinbase", "100.1", age=2), q("binance", "99.9")]
    # when
    result = agg(quotes)
    # then
    assert [(s.source, s.price, s.observed_at) for s in result.sources] == [
        ("binance", Decimal("99.9"), NOW - timedelta(seconds=1)),
        ("coinbase", Decimal("100.1"), NOW - timedelta(seconds=2)),
        ("kraken", Decimal("100"), NOW - timedelta(seconds=3)),
    ]
    assert result.spread_pct == Decimal("0.2002")  # (100.1 - 99.9) / 99.9
    assert result.updated_at == NOW


# --------------------------------------------------------------------------- staleness, validity


def test_aggregate_excludes_a_stale_quote_and_reports_it():
    # given
    quotes = [q("coinbase", "100"), q("kraken", "100.1"), q("binance", "90", age=31)]
    # when
    result = agg(quotes)
    # then
    assert result.status == Status.DEGRADED
    assert result.price == Decimal("100.05")
    (stale,) = result.excluded
    assert (stale.source, stale.price, stale.reason) == ("binance", Decimal("90"), "stale")
    assert stale.observed_at == NOW - timedelta(seconds=31)


def test_aggregate_applies_a_source_specific_max_age():
    # given: 100 s old is fresh for CoinGecko (120 s) but stale for Kraken (30 s)
    quotes = [q("coinbase", "100"), q("coingecko", "100.1", age=100), q("kraken", "100", age=100)]
    # when
    result = agg(quotes)
    # then
    assert [s.source for s in result.sources] == ["coinbase", "coingecko"]
    assert [(e.source, e.reason) for e in result.excluded] == [("kraken", "stale")]


def test_aggregate_excludes_a_quote_stamped_in_the_future():
    # given: a source claiming a time 60 s ahead would otherwise never go stale
    quotes = [q("a", "100"), q("b", "100"), q("c", "100"), q("liar", "100", age=-60)]
    # when
    result = agg(quotes)
    # then
    assert [(e.source, e.reason) for e in result.excluded] == [("liar", "invalid")]


def test_aggregate_excludes_a_non_positive_price():
    # given
    quotes = [q("a", "100"), q("b", "100"), q("zero", "0"), q("negative", "-100")]
    # when
    result = agg(quotes)
    # then
    assert result.price == Decimal("100")
    assert {(e.source, e.reason) for e in result.excluded} == {
        ("zero", "invalid"),
        ("negative", "invalid"),
    }


def test_aggregate_reports_failed_sources_as_excluded():
    # given
    failures = [
        SourceFailure("binance", "BTC-USD", "backoff", "HTTP 418; backing off 120s"),
        SourceFailure("coingecko", "BTC-USD", "unsupported", "no such coin"),
    ]
    # when
    result = agg([q("coinbase", "100"), q("kraken", "100")], failures=failures)
    # then
    assert [(e.source, e.reason, e.price) for e in result.excluded] == [
        ("binance", "error", None),
        ("coingecko", "unsupported", None),
    ]
    assert result.excluded[0].detail == "backoff: HTTP 418; backing off 120s"


# --------------------------------------------------------------------------- deviation


def test_aggregate_excludes_a_deviating_source_and_recomputes_the_median():
    # given: median of all four is 101.5; 110 is 8.4 % away
    quotes = [q("a", "100"), q("b", "101"), q("c", "102"), q("liar", "110")]
    # when
    result = agg(quotes)
    # then
    assert result.price == Decimal("101")
    (excluded,) = result.excluded
    assert (excluded.source, excluded.price, excluded.reason) == (
        "liar",
        Decimal("110"),
        "deviation",
    )
    assert "from the median 101.5" in excluded.detail
    assert result.status == Status.OK


def test_aggregate_keeps_a_source_exactly_at_the_deviation_limit():
    # given: 102 is exactly 2 % above the median 100
    quotes = [q("a", "100"), q("b", "100"), q("c", "102")]
    # when
    result = agg(quotes)
    # then
    assert len(result.sources) == 3
    assert result.excluded == ()


# --------------------------------------------------------------------------- quorum


def test_aggregate_is_ok_with_a_quorum_of_agreeing_sources():
    # given
    quotes = [q("a", "100"), q("b", "100.5"), q("c", "99.5")]
    # when / then
    assert agg(quotes).status == Status.OK


def test_aggregate_is_degraded_with_two_agreeing_sources():
    # given
    quotes = [q("a", "100"), q("b", "100.5")]
    # when
    result = agg(quotes)
    # then
    assert result.status == Status.DEGRADED
    assert result.price == Decimal("100.25")
    assert result.tradeable


def test_aggregate_halts_with_a_single_source():
    # given
    quotes = [q("a", "100")]
    # when
    result = agg(quotes)
    # then
    assert (result.status, result.halt_reason, result.price) == (Status.HALTED, "quorum", None)
    assert not result.tradeable


def test_aggregate_follows_quorum_settings(settings):
    # given
    settings.ORACLE_QUORUM = 4
    quotes = [q("a", "100"), q("b", "100"), q("c", "100")]
    # when
    result = aggregate(pair="BTC-USD", quotes=quotes, now=NOW)
    # then
    assert result.status == Status.DEGRADED


# --------------------------------------------------------------------------- disagreement


def test_aggregate_halts_when_two_sources_disagree():
    # given
    quotes = [q("a", "100"), q("b", "110")]
    # when
    result = agg(quotes)
    # then
    assert (result.status, result.halt_reason, result.price) == (
        Status.HALTED,
        "disagreement",
        None,
    )
    assert {e.reason for e in result.excluded} == {"deviation"}


def test_aggregate_halts_without_a_majority_cluster():
    # given: two pairs of sources 20 % apart
    quotes = [q("a", "100"), q("b", "100.5"), q("c", "120"), q("d", "121")]
    # when
    result = agg(quotes)
    # then
    assert (result.status, result.halt_reason) == (Status.HALTED, "disagreement")


def test_aggregate_halts_when_a_minority_agrees():
    # given: 3 of 5 far apart; only 2 within 2 % of the median
    quotes = [q("a", "100"), q("b", "100.5"), q("c", "90"), q("d", "80"), q("e", "120")]
    # when
    result = agg(quotes)
    # then
    assert (result.status, result.halt_reason) == (Status.HALTED, "disagreement")


def test_aggregate_halts_when_agreeing_sources_spread_beyond_the_halt_spread():
    # given: a wide deviation band lets 100..108 agree, but they span 8 %
    rules = replace(RULES, max_deviation_pct=Decimal("10"))
    quotes = [q("a", "100"), q("b", "104"), q("c", "108")]
    # when
    result = agg(quotes, rules=rules)
    # then
    assert (result.status, result.halt_reason) == (Status.HALTED, "disagreement")
    assert "span 8.00%" in result.detail


# --------------------------------------------------------------------------- jumps


def test_aggregate_halts_an_unconfirmed_jump():
    # given: 100 published 30 s ago, now two sources say 115
    previous = published("100", at=NOW - timedelta(seconds=30))
    quotes = [q("a", "115"), q("b", "115")]
    # when
    result = agg(quotes, previous=previous)
    # then
    assert (result.status, result.halt_reason, result.price) == (Status.HALTED, "jump", None)
    assert (result.last_price, result.last_price_at) == (Decimal("100"), previous.updated_at)


def test_aggregate_accepts_a_jump_confirmed_by_a_quorum():
    # given
    previous = published("100", at=NOW - timedelta(seconds=30))
    quotes = [q("a", "115"), q("b", "115"), q("c", "115.1")]
    # when
    result = agg(quotes, previous=previous)
    # then
    assert (result.status, result.price) == (Status.OK, Decimal("115"))


def test_aggregate_accepts_a_move_within_the_jump_limit():
    # given
    previous = published("100", at=NOW - timedelta(seconds=30))
    quotes = [q("a", "109"), q("b", "109.5")]
    # when
    result = agg(quotes, previous=previous)
    # then
    assert (result.status, result.price) == (Status.DEGRADED, Decimal("109.25"))


def test_aggregate_jump_guard_ends_after_the_window():
    # given: the reference is 61 s old
    previous = published("100", at=NOW - timedelta(seconds=61))
    quotes = [q("a", "115"), q("b", "115")]
    # when
    result = agg(quotes, previous=previous)
    # then
    assert (result.status, result.price) == (Status.DEGRADED, Decimal("115"))


def test_aggregate_jump_guard_survives_a_halted_round():
    # given: the round after a jump halt still measures against the last published price
    reference = published("100", at=NOW - timedelta(seconds=30))
    earlier = NOW - timedelta(seconds=10)
    halted = agg([q("a", "115", age=11), q("b", "115", age=11)], previous=reference, now=earlier)
    # when
    result = agg([q("a", "115"), q("b", "115")], previous=halted)
    # then
    assert (halted.status, result.status, result.halt_reason) == (
        Status.HALTED,
        Status.HALTED,
        "jump",
    )


# --------------------------------------------------------------------------- stale


def test_aggregate_without_fresh_quotes_carries_a_still_fresh_price():
    # given: published 10 s ago from quotes still fresh
    previous = published("100", at=NOW - timedelta(seconds=10))
    failures = [SourceFailure("a", "BTC-USD", "unavailable", "HTTP 503")]
    # when
    result = agg([], failures=failures, previous=previous)
    # then
    assert (result.status, result.price, result.updated_at) == (
        Status.OK,
        Decimal("100"),
        previous.updated_at,
    )
    assert [(e.source, e.reason) for e in result.excluded] == [("a", "error")]


def test_aggregate_without_fresh_quotes_goes_stale_once_the_price_aged():
    # given: the last price's quotes are 40 s old
    previous = published("100", at=NOW - timedelta(seconds=39))
    quotes = [q("a", "101", age=31)]
    # when
    result = agg(quotes, previous=previous)
    # then
    assert (result.status, result.price, result.halt_reason) == (Status.STALE, None, None)
    assert (result.last_price, result.last_price_at) == (Decimal("100"), previous.updated_at)
    assert not result.tradeable


def test_aggregate_with_nothing_at_all_is_stale_without_a_price():
    # given / when
    result = agg([])
    # then
    assert (result.status, result.price, result.last_price) == (Status.STALE, None, None)


def test_as_of_marks_an_unrefreshed_price_stale():
    # given
    fresh = published("100", at=NOW)
    # when
    soon = as_of(fresh, now=NOW + timedelta(seconds=20), rules=RULES)
    later = as_of(fresh, now=NOW + timedelta(seconds=40), rules=RULES)
    # then
    assert soon is fresh
    assert (later.status, later.price, later.last_price) == (Status.STALE, None, Decimal("100"))


def test_as_of_never_marks_a_fixed_price_stale():
    # given
    fixed = fixed_price(pair="TEST-USD", price=Decimal("1.00"), now=NOW)
    # when / then
    assert as_of(fixed, now=NOW + timedelta(days=30), rules=RULES) is fixed


# --------------------------------------------------------------------------- preconditions


@pytest.mark.parametrize(
    "quotes",
    [
        [q("a", "100"), q("a", "101")],  # one vote per source
        [q("a", "100", pair="ETH-USD")],  # another pair
    ],
)
def test_aggregate_rejects_inconsistent_input(quotes):
    # given / when / then
    with pytest.raises(ValueError):
        agg(quotes)


def test_aggregate_rejects_a_naive_now():
    # given / when / then
    with pytest.raises(ValueError, match="timezone-aware"):
        agg([q("a", "100")], now=NOW.replace(tzinfo=None))


def test_quote_refuses_a_float_price():
    # given / when / then
    with pytest.raises(TypeError, match="Decimal"):
        Quote(source="a", pair="BTC-USD", price=67000.1, observed_at=NOW, fetched_at=NOW)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- as_dict


def test_as_dict_has_the_public_fields_with_decimal_strings_and_iso_times():
    # given
    result = agg([q("a", "67000.10"), q("b", "67001.30"), q("liar", "80000")])
    # when
    data = result.as_dict()
    # then
    assert {
        "pair",
        "price",
        "status",
        "sources",
        "excluded",
        "spread_pct",
        "updated_at",
        "halt_reason",
        "fixed",
    } <= set(data)
    assert data["pair"] == "BTC-USD"
    assert data["price"] == "67000.70"
    assert data["status"] == "degraded"
    assert data["sources"][0] == {
        "source": "a",
        "pair": "BTC-USD",
        "price": "67000.10",
        "observed_at": "2026-01-01T11:59:59+00:00",
    }
    assert data["excluded"][0]["reason"] == "deviation"
    assert data["excluded"][0]["price"] == "80000"
    assert data["spread_pct"] == "0.0018"
    assert data["updated_at"] == "2026-01-01T12:00:00+00:00"
    assert data["halt_reason"] is None
    assert data["fixed"] is False


def test_as_dict_never_uses_exponent_notation():
    # given
    result = fixed_price(pair="TEST-USD", price=Decimal("1E+2"), now=NOW)
    # when / then
    assert result.as_dict()["price"] == "100"


# --------------------------------------------------------------------------- cross rates


def test_cross_divides_the_base_leg_by_the_quote_leg():
    # given
    eth = published("3000", at=NOW, pair="ETH-USD")
    icp = published("12", at=NOW, pair="ICP-USD")
    # when
    result = cross(base_usd=eth, quote_usd=icp)
    # then
    assert (result.pair, result.price, result.status) == ("ETH-ICP", Decimal("250"), Status.OK)
    assert {(s.pair, s.source) for s in result.sources} == {
        (p, s) for p in ("ETH-USD", "ICP-USD") for s in "abc"
    }


def test_cross_status_is_the_worse_leg():
    # given
    eth = published("3000", at=NOW, pair="ETH-USD")
    icp = agg([q("a", "12", pair="ICP-USD"), q("b", "12", pair="ICP-USD")], pair="ICP-USD")
    # when
    result = cross(base_usd=eth, quote_usd=icp)
    # then
    assert (result.status, result.price) == (Status.DEGRADED, Decimal("250"))


def test_cross_with_a_halted_leg_is_halted():
    # given
    eth = published("3000", at=NOW, pair="ETH-USD")
    icp = agg([q("a", "12", pair="ICP-USD"), q("b", "14", pair="ICP-USD")], pair="ICP-USD")
    # when
    result = cross(base_usd=eth, quote_usd=icp)
    # then
    assert (result.status, result.price, result.halt_reason) == (
        Status.HALTED,
        None,
        "disagreement",
    )
    assert result.detail.startswith("ICP-USD: ")


def test_cross_with_a_stale_leg_is_stale():
    # given
    eth = as_of(
        published("3000", at=NOW, pair="ETH-USD"), now=NOW + timedelta(minutes=5), rules=RULES
    )
    icp = published("12", at=NOW, pair="ICP-USD")
    # when
    result = cross(base_usd=eth, quote_usd=icp)
    # then
    assert (result.status, result.price, result.last_price) == (Status.STALE, None, Decimal("250"))


def test_cross_refuses_legs_without_a_common_quote():
    # given
    eth = published("3000", at=NOW, pair="ETH-USD")
    btc_eth = published("20", at=NOW, pair="BTC-ETH")
    # when / then
    with pytest.raises(ValueError):
        cross(base_usd=eth, quote_usd=btc_eth)


# --------------------------------------------------------------------------- fixed prices


def test_fixed_aggregate_is_labelled_as_fixed(settings):
    # given
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": "1.00"}
    # when
    result = fixed_aggregate(pair="test-usd", now=NOW)
    # then
    assert result is not None
    assert (result.pair, result.price, result.status, result.fixed) == (
        "TEST-USD",
        Decimal("1.00"),
        Status.OK,
        True,
    )
    assert [s.source for s in result.sources] == ["fixed"]
    assert result.as_dict()["fixed"] is True


def test_fixed_aggregate_is_none_for_an_unconfigured_pair(settings):
    # given
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": "1.00"}
    # when / then
    assert fixed_aggregate(pair="BTC-USD", now=NOW) is None


def test_fixed_prices_refuse_a_float(settings):
    # given
    settings.ORACLE_FIXED_PRICES = {"TEST-USD": 1.1}
    # when / then
    with pytest.raises(ImproperlyConfigured, match="float"):
        conf.fixed_prices()


def test_cross_with_a_fixed_leg_is_flagged_fixed():
    # given
    test = fixed_price(pair="TEST-USD", price=Decimal("1.00"), now=NOW)
    eth = published("3000", at=NOW, pair="ETH-USD")
    # when
    result = cross(base_usd=test, quote_usd=eth)
    # then
    assert result.fixed
    assert result.pair == "TEST-ETH"


# --------------------------------------------------------------------------- settings


def test_source_url_comes_from_the_environment_unless_settings_say_otherwise(
    settings, monkeypatch, tmp_path
):
    # given: base.py, which reads ORACLE_<SOURCE>_URL, evaluated again with one of them set
    monkeypatch.setenv("ORACLE_KRAKEN_URL", "https://kraken.example")
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    base_py = Path(settings.BASE_DIR) / "config" / "settings" / "base.py"
    from_base = runpy.run_path(str(base_py))["ORACLE_SOURCE_URLS"]
    settings.ORACLE_SOURCE_URLS = from_base
    # when
    from_env = conf.source_url("kraken")
    settings.ORACLE_SOURCE_URLS = {**from_base, "kraken": "https://kraken.settings.example"}
    from_settings = conf.source_url("kraken")
    # then
    assert from_env == "https://kraken.example"
    assert from_settings == "https://kraken.settings.example"
    assert conf.source_url("coinbase") == "https://api.exchange.coinbase.com"


def test_rules_from_settings_read_every_threshold(settings):
    # given
    settings.ORACLE_MAX_DEVIATION_PCT = "1.5"
    settings.ORACLE_MAX_AGE_SECONDS = 20
    settings.ORACLE_JUMP_WINDOW_SECONDS = 90
    # when
    rules = Rules.from_settings()
    # then
    assert rules.max_deviation_pct == Decimal("1.5")
    assert rules.max_age == timedelta(seconds=20)
    assert rules.jump_window == timedelta(seconds=90)
    assert rules.max_age_for("coingecko") == timedelta(seconds=120)
