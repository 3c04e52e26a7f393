"""Creating, editing, deleting, moderating and expiring listings, and the one state writer."""

from __future__ import annotations

import ast
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.tests.factories import UserFactory, WalletFactory
from marketplace import services
from marketplace.errors import ListingError
from marketplace.models import Listing
from marketplace.tests.factories import ListingFactory, eth_asset, token_asset
from marketplace.tests.support import publish_prices
from oracle.services import pair_halt
from testing.code_scan import state_writes

pytestmark = pytest.mark.django_db
State = Listing.State


def _maker():
    maker = UserFactory()
    wallet = WalletFactory(user=maker)
    return maker, wallet.address


def _create(maker, address, **overrides):
    values = {
        "base_asset_id": eth_asset().pk,
        "quote_asset_id": token_asset().pk,
        "amount": Decimal("10"),
        "min_trade": Decimal("1"),
        "max_trade": Decimal("5"),
        "price": Decimal("2000"),
        "payout_address": address,
        "refund_address": address,
    }
    values.update(overrides)
    return services.listing_create(maker=maker, **values)


def _codes(exc_info) -> dict[str, list[str]]:
    return {field: [e.code for e in errors] for field, errors in exc_info.value.detail.items()}


def test_listing_create_publishes_an_active_listing_with_everything_remaining():
    # given
    maker, address = _maker()
    # when
    listing = _create(maker, address.lower(), terms="  Fast trades  ")
    # then
    assert listing.state == State.ACTIVE
    assert listing.remaining == listing.amount == Decimal("10")
    assert listing.payout_address == address  # stored as linked, checksummed
    assert listing.terms == "Fast trades"
    assert listing.pair == "ETH-TEST"


def test_listing_create_as_draft():
    # given
    maker, address = _maker()
    # when
    listing = _create(maker, address, draft=True)
    # then
    assert listing.state == State.DRAFT


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"amount": Decimal("0")}, "amount", "amount_not_positive"),
        ({"amount": Decimal("-3")}, "amount", "amount_not_positive"),
        ({"amount": Decimal("1.0000000000000000001")}, "amount", "too_many_decimals"),
        ({"amount": Decimal("1e42")}, "amount", "amount_too_large"),
        ({"min_trade": Decimal("6")}, "min_trade", "min_above_max"),
        ({"max_trade": Decimal("11")}, "max_trade", "max_above_amount"),
        ({"price": Decimal("2000.0000001")}, "price", "too_many_decimals"),
        ({"price": Decimal("0")}, "price", "amount_not_positive"),
        ({"price": None}, "price", "price_required"),
        ({"price_margin_pct": Decimal("1")}, "price", "price_conflict"),
        ({"price_floor": Decimal("1")}, "price_floor", "bound_without_margin"),
        ({"base_asset_id": 999_999}, "base_asset", "unknown_asset"),
        ({"quote_asset_id": 999_999}, "quote_asset", "unknown_asset"),
        ({"terms": "x" * 2001}, "terms", "terms_too_long"),
        (
            {"expires_at": timezone.now() - timedelta(minutes=1)},
            "expires_at",
            "expiry_in_past",
        ),
    ],
)
def test_listing_create_refuses_bad_input_with_a_field_code(overrides, field, code):
    # given
    maker, address = _maker()
    # when
    with pytest.raises(ValidationError) as exc:
        _create(maker, address, **overrides)
    # then
    assert code in _codes(exc)[field]
    assert not Listing.objects.exists()


def test_listing_create_refuses_the_same_asset_on_both_sides():
    # given
    maker, address = _maker()
    eth = eth_asset()
    # when
    with pytest.raises(ValidationError) as exc:
        _create(maker, address, base_asset_id=eth.pk, quote_asset_id=eth.pk)
    # then
    assert _codes(exc) == {"quote_asset": ["same_asset"]}


def test_listing_create_refuses_addresses_not_linked_to_the_maker():
    # given: one address of someone else, one never linked
    maker, _address = _maker()
    other = WalletFactory().address
    # when
    with pytest.raises(ValidationError) as exc:
        _create(maker, other, refund_address="0x" + "12" * 20)
    # then
    assert _codes(exc) == {
        "payout_address": ["address_not_linked"],
        "refund_address": ["address_not_linked"],
    }


def test_listing_create_reports_every_bad_field_at_once():
    # given
    maker, address = _maker()
    # when
    with pytest.raises(ValidationError) as exc:
        _create(maker, address, amount=Decimal("-1"), price=None, terms="y" * 3000)
    # then
    assert set(_codes(exc)) == {"amount", "price", "terms"}


def test_listing_create_respects_the_six_decimals_of_the_test_token():
    # given: selling the 6-decimal token
    maker, address = _maker()
    token = token_asset()
    # when
    with pytest.raises(ValidationError) as exc:
        _create(
            maker,
            address,
            base_asset_id=token.pk,
            quote_asset_id=eth_asset().pk,
            amount=Decimal("10.0000001"),
        )
    ok = _create(
        maker,
        address,
        base_asset_id=token.pk,
        quote_asset_id=eth_asset().pk,
        amount=Decimal("10.000001"),
        price=Decimal("0.000500000000000001"),
    )
    # then
    assert _codes(exc) == {"amount": ["too_many_decimals"]}
    assert ok.amount == Decimal("10.000001")
    assert ok.price == Decimal("0.000500000000000001")


def test_listing_create_market_relative_needs_a_tradeable_pair(settings):
    # given: no price for ETH-TEST yet
    maker, address = _maker()
    # when
    with pytest.raises(ValidationError) as exc:
        _create(maker, address, price=None, price_margin_pct=Decimal("1.5"))
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    listing = _create(
        maker,
        address,
        price=None,
        price_margin_pct=Decimal("1.5"),
        price_floor=Decimal("1900"),
        price_ceiling=Decimal("2100"),
    )
    # then
    assert _codes(exc) == {"price_margin_pct": ["pair_not_tradeable"]}
    assert listing.price is None
    assert listing.price_margin_pct == Decimal("1.5")


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"price_margin_pct": Decimal("-100")}, "price_margin_pct", "margin_out_of_range"),
        ({"price_margin_pct": Decimal("1.00001")}, "price_margin_pct", "too_many_decimals"),
        ({"price_margin_pct": Decimal("1001")}, "price_margin_pct", "margin_out_of_range"),
        (
            {"price_floor": Decimal("2100"), "price_ceiling": Decimal("2000")},
            "price_floor",
            "floor_above_ceiling",
        ),
    ],
)
def test_listing_create_checks_the_margin_and_its_bounds(settings, overrides, field, code):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    maker, address = _maker()
    values = {"price": None, "price_margin_pct": Decimal("1"), **overrides}
    # when
    with pytest.raises(ValidationError) as exc:
        _create(maker, address, **values)
    # then
    assert code in _codes(exc)[field]


def test_listing_update_changes_only_the_given_fields_and_keeps_reservations():
    # given: 10 ETH with 3 reserved by a swap
    listing = ListingFactory()
    services.listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("3"))
    # when
    updated = services.listing_update(
        listing_id=listing.pk,
        maker=listing.maker,
        changes={"amount": Decimal("20"), "price": Decimal("2100.5"), "terms": "new"},
    )
    # then
    listing.refresh_from_db()
    assert listing.amount == Decimal("20")
    assert listing.remaining == Decimal("17")
    assert listing.price == Decimal("2100.5")
    assert listing.terms == "new"
    assert updated.max_trade == Decimal("5")


def test_listing_update_refuses_an_amount_not_above_what_swaps_hold():
    # given
    listing = ListingFactory()
    services.listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("4"))
    # when
    with pytest.raises(ValidationError) as exc:
        services.listing_update(
            listing_id=listing.pk,
            maker=listing.maker,
            changes={"amount": Decimal("4"), "max_trade": Decimal("4")},
        )
    # then
    assert _codes(exc) == {"amount": ["amount_below_reserved"]}


def test_listing_update_raising_a_sold_out_amount_reopens_it():
    # given
    listing = ListingFactory(amount=Decimal("5"))
    services.listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("5"))
    # when
    updated = services.listing_update(
        listing_id=listing.pk, maker=listing.maker, changes={"amount": Decimal("8")}
    )
    # then
    assert updated.state == State.ACTIVE
    assert updated.remaining == Decimal("3")


def test_listing_update_switching_to_a_fixed_price_clears_the_margin(settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    listing = ListingFactory(market=True, price_floor=Decimal("1900"))
    # when
    services.listing_update(
        listing_id=listing.pk, maker=listing.maker, changes={"price": Decimal("1950")}
    )
    # then
    listing.refresh_from_db()
    assert (listing.price, listing.price_margin_pct, listing.price_floor) == (
        Decimal("1950"),
        None,
        None,
    )


def test_listing_update_keeps_an_unchanged_market_listing_editable_while_halted(settings):
    # given: a market-relative listing whose pair is then halted
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    listing = ListingFactory(market=True)
    pair_halt(pair="ETH-TEST", reason="test", user=UserFactory())
    # when: only the terms change
    services.listing_update(listing_id=listing.pk, maker=listing.maker, changes={"terms": "x"})
    # then
    listing.refresh_from_db()
    assert listing.terms == "x"


def test_listing_update_refuses_another_user_and_a_closed_listing():
    # given
    listing = ListingFactory()
    closed = ListingFactory(state=State.CANCELLED)
    # when
    with pytest.raises(ListingError) as other:
        services.listing_update(listing_id=listing.pk, maker=UserFactory(), changes={"terms": "x"})
    with pytest.raises(ListingError) as done:
        services.listing_update(listing_id=closed.pk, maker=closed.maker, changes={"terms": "x"})
    # then
    assert other.value.get_codes() == "not_listing_maker"
    assert other.value.status_code == 403
    assert done.value.get_codes() == "listing_closed"


def test_listing_update_refuses_changing_the_pair():
    # given
    listing = ListingFactory()
    # when
    with pytest.raises(ValidationError) as exc:
        services.listing_update(
            listing_id=listing.pk, maker=listing.maker, changes={"base_asset": 3}
        )
    # then
    assert _codes(exc) == {"base_asset": ["immutable_field"]}


@pytest.mark.parametrize(
    ("start", "to", "end"),
    [
        (State.DRAFT, State.ACTIVE, State.ACTIVE),
        (State.ACTIVE, State.PAUSED, State.PAUSED),
        (State.PAUSED, State.ACTIVE, State.ACTIVE),
        (State.PAUSED, State.CANCELLED, State.CANCELLED),
    ],
)
def test_listing_update_moves_the_state_for_the_maker(start, to, end):
    # given
    listing = ListingFactory(state=start)
    # when
    services.listing_update(listing_id=listing.pk, maker=listing.maker, changes={}, state=to)
    # then
    listing.refresh_from_db()
    assert listing.state == end


def test_listing_update_refuses_a_system_state_and_resuming_past_expiry():
    # given
    listing = ListingFactory(state=State.PAUSED)
    Listing.objects.filter(pk=listing.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    # when
    with pytest.raises(ValidationError) as bad:
        services.listing_update(
            listing_id=listing.pk, maker=listing.maker, changes={}, state=State.SOLD_OUT
        )
    with pytest.raises(ListingError) as late:
        services.listing_update(
            listing_id=listing.pk, maker=listing.maker, changes={}, state=State.ACTIVE
        )
    # then
    assert _codes(bad) == {"state": ["invalid_state"]}
    assert late.value.get_codes() == "listing_expired"


def test_listing_delete_is_soft_and_cancels():
    # given
    listing = ListingFactory()
    # when
    services.listing_delete(listing_id=listing.pk, maker=listing.maker)
    # then
    listing.refresh_from_db()
    assert listing.deleted_at is not None
    assert listing.state == State.CANCELLED
    with pytest.raises(ListingError) as exc:
        services.listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("1"))
    assert exc.value.get_codes() == "listing_unavailable"


def test_a_release_after_deletion_still_restores_remaining():
    # given: a swap holds 2, then the maker deletes the listing
    listing = ListingFactory()
    services.listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("2"))
    services.listing_delete(listing_id=listing.pk, maker=listing.maker)
    # when
    services.listing_release(listing_id=listing.pk, amount=Decimal("2"))
    # then
    listing.refresh_from_db()
    assert listing.remaining == Decimal("10")
    assert listing.state == State.CANCELLED


def test_listing_hide_needs_a_reason_and_unhide_restores():
    # given
    listing = ListingFactory()
    staff = UserFactory(is_staff=True)
    # when
    with pytest.raises(ListingError) as exc:
        services.listing_hide(listing_id=listing.pk, by=staff, reason="  ")
    services.listing_hide(listing_id=listing.pk, by=staff, reason="Scam terms")
    listing.refresh_from_db()
    hidden = (listing.hidden_at is not None, listing.hidden_reason, listing.hidden_by_id)
    services.listing_unhide(listing_id=listing.pk, by=staff)
    # then
    assert exc.value.get_codes() == "reason_required"
    assert hidden == (True, "Scam terms", staff.pk)
    listing.refresh_from_db()
    assert (listing.hidden_at, listing.hidden_reason, listing.state) == (None, "", State.ACTIVE)


def test_listings_expire_moves_only_due_open_listings():
    # given
    now = timezone.now()
    due = [ListingFactory(state=s) for s in (State.ACTIVE, State.PAUSED, State.DRAFT)]
    later = ListingFactory()
    cancelled = ListingFactory(state=State.CANCELLED)
    Listing.objects.filter(pk__in=[d.pk for d in due] + [cancelled.pk]).update(
        expires_at=now - timedelta(seconds=1)
    )
    Listing.objects.filter(pk=later.pk).update(expires_at=now + timedelta(hours=1))
    # when
    count = services.listings_expire(now=now, batch=2)
    again = services.listings_expire(now=now)
    # then
    assert (count, again) == (3, 0)
    states = dict(Listing.objects.values_list("pk", "state"))
    assert {states[d.pk] for d in due} == {State.EXPIRED}
    assert states[later.pk] == State.ACTIVE
    assert states[cancelled.pk] == State.CANCELLED


def test_expire_listings_task_runs_the_service():
    # given
    from marketplace.tasks import expire_listings

    listing = ListingFactory()
    Listing.objects.filter(pk=listing.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # when
    expire_listings.delay()
    # then
    listing.refresh_from_db()
    assert listing.state == State.EXPIRED


def test_the_expiry_job_is_scheduled():
    # given
    from config.schedules import CELERY_BEAT_SCHEDULE

    # then
    entries = [
        e for e in CELERY_BEAT_SCHEDULE.values() if e["task"] == "marketplace.expire_listings"
    ]
    assert len(entries) == 1
    assert entries[0]["options"]["expires"] > 0


def test_only_listing_transition_writes_a_listing_state():
    # given: every Python file of the app except tests and migrations
    root = Path(__file__).resolve().parents[1]
    writes = []
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for func, line, what in state_writes(ast.parse(path.read_text()), "listing_transition"):
            writes.append((str(path.relative_to(root)), func, what))
    # then: the writer's conditional update and assignment, and the row's birth
    assert sorted(writes) == [
        ("services.py", "listing_create", "create"),
        ("services.py", "listing_transition", "assign"),
        ("services.py", "listing_transition", "update"),
    ]


def test_the_state_scan_sees_a_stray_write():
    # given
    stray = (
        "def pause(listing):\n    listing.state = 'paused'\n    Listing.objects.update(state='x')\n"
    )
    # then
    assert state_writes(ast.parse(stray), "listing_transition") == [
        ("pause", 2, "assign"),
        ("pause", 3, "update"),
    ]


def test_base_units_are_exact_beyond_the_default_decimal_precision():
    from core.decimals import base_units

    # 42 integer digits and 18 places: 60 significant digits (the default context has 28)
    amount = Decimal("123456789012345678901234567890123456789012.123456789012345678")
    assert base_units(amount, 18) == 123456789012345678901234567890123456789012123456789012345678
    assert base_units(Decimal("1.5"), 6) == 1_500_000
    with pytest.raises(ValueError):
        base_units(Decimal("0.0000001"), 6)
