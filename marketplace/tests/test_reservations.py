"""listing_reserve / listing_release: the only way remaining changes, and never twice."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from marketplace import services
from marketplace.errors import ListingError
from marketplace.models import STATES, Listing
from marketplace.services import listing_release, listing_reserve
from marketplace.tests.factories import ListingFactory, token_asset
from testing.support import race

pytestmark = pytest.mark.django_db
State = Listing.State


def _code(exc_info) -> str:
    return exc_info.value.get_codes()


def test_listing_reserve_decrements_remaining():
    # given
    listing = ListingFactory(amount=Decimal("10"), min_trade=Decimal("1"), max_trade=Decimal("5"))
    # when
    result = listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("2.5"))
    # then
    listing.refresh_from_db()
    assert result.remaining == listing.remaining == Decimal("7.5")
    assert listing.state == State.ACTIVE


def test_listing_reserve_of_everything_left_makes_it_sold_out():
    # given
    listing = ListingFactory(amount=Decimal("5"), min_trade=Decimal("1"), max_trade=Decimal("5"))
    # when
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("5"))
    # then
    listing.refresh_from_db()
    assert listing.remaining == 0
    assert listing.state == State.SOLD_OUT


@pytest.mark.parametrize(
    "change",
    [
        {"state": State.PAUSED},
        {"state": State.DRAFT},
        {"state": State.CANCELLED},
        {"state": State.EXPIRED},
        {"hidden_at": timezone.now(), "hidden_reason": "spam"},
        {"deleted_at": timezone.now()},
        {"expires_at": timezone.now() - timedelta(seconds=1)},
    ],
    ids=["paused", "draft", "cancelled", "expired", "hidden", "deleted", "past_expiry"],
)
def test_listing_reserve_refuses_a_listing_that_is_not_takeable(change):
    # given
    listing = ListingFactory()
    Listing.objects.filter(pk=listing.pk).update(**change)
    # when
    with pytest.raises(ListingError) as exc:
        listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("1"))
    # then
    assert _code(exc) == "listing_unavailable"
    assert exc.value.status_code == 409
    listing.refresh_from_db()
    assert listing.remaining == listing.amount


def test_listing_reserve_refuses_the_maker():
    # given
    listing = ListingFactory()
    # when
    with pytest.raises(ListingError) as exc:
        listing_reserve(listing_id=listing.pk, taker=listing.maker, amount=Decimal("1"))
    # then
    assert _code(exc) == "own_listing"


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        (Decimal("0"), "amount_not_positive"),
        (Decimal("-1"), "amount_not_positive"),
        (Decimal("1.0000000000000000001"), "too_many_decimals"),
        (Decimal("0.5"), "amount_below_minimum"),
        (Decimal("5.000001"), "amount_above_maximum"),
    ],
)
def test_listing_reserve_refuses_a_bad_amount(amount, code):
    # given: 10 ETH, 1 to 5 per trade
    listing = ListingFactory()
    # when
    with pytest.raises(ListingError) as exc:
        listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=amount)
    # then
    assert _code(exc) == code
    assert exc.value.status_code == 400
    listing.refresh_from_db()
    assert listing.remaining == Decimal("10")


def test_listing_reserve_checks_decimals_of_the_base_asset():
    # given: a listing selling the 6-decimal test token
    listing = ListingFactory(base_asset=token_asset(), quote_asset=token_asset("local-a"))
    # when
    with pytest.raises(ListingError) as exc:
        listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("1.0000001"))
    # then
    assert _code(exc) == "too_many_decimals"
    ok = listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("1.000001"))
    assert ok.remaining == Decimal("8.999999")


def test_listing_reserve_refuses_more_than_remains():
    # given: 10 ETH of which 7 are reserved
    listing = ListingFactory()
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("5"))
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("2"))
    # when
    with pytest.raises(ListingError) as exc:
        listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("3.5"))
    # then
    assert _code(exc) == "insufficient_remaining"
    assert exc.value.status_code == 409
    listing.refresh_from_db()
    assert listing.remaining == Decimal("3")


def test_listing_reserve_allows_the_last_piece_below_the_minimum():
    # given: 0.4 ETH left, minimum 1 per trade
    listing = ListingFactory(amount=Decimal("5.4"))
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("5"))
    # when
    too_small = Decimal("0.3")
    with pytest.raises(ListingError) as exc:
        listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=too_small)
    result = listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("0.4"))
    # then
    assert _code(exc) == "amount_below_minimum"
    assert result.remaining == 0
    assert result.state == State.SOLD_OUT


def test_listing_reserve_of_an_unknown_listing_is_not_found():
    # when
    with pytest.raises(ListingError) as exc:
        listing_reserve(listing_id=999_999, taker=UserFactory(), amount=Decimal("1"))
    # then
    assert _code(exc) == "listing_not_found"
    assert exc.value.status_code == 404


def test_listing_reserve_inside_an_outer_transaction_rolls_back_with_it():
    # given
    listing = ListingFactory()
    taker = UserFactory()

    class Abort(Exception):
        pass

    # when: the caller's transaction fails after the reservation
    with pytest.raises(Abort), transaction.atomic():
        listing_reserve(listing_id=listing.pk, taker=taker, amount=Decimal("5"))
        raise Abort
    # then
    listing.refresh_from_db()
    assert listing.remaining == Decimal("10")


def test_a_refused_reservation_leaves_the_outer_transaction_usable():
    # given
    listing = ListingFactory()
    taker = UserFactory()
    # when: inside one outer transaction, a refusal then a valid reservation
    with transaction.atomic():
        with pytest.raises(ListingError):
            listing_reserve(listing_id=listing.pk, taker=taker, amount=Decimal("50"))
        listing_reserve(listing_id=listing.pk, taker=taker, amount=Decimal("5"))
    # then
    listing.refresh_from_db()
    assert listing.remaining == Decimal("5")


def test_listing_release_gives_back_and_reopens_a_sold_out_listing():
    # given
    listing = ListingFactory(amount=Decimal("5"))
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("5"))
    # when
    result = listing_release(listing_id=listing.pk, amount=Decimal("2"))
    # then
    listing.refresh_from_db()
    assert result.remaining == listing.remaining == Decimal("2")
    assert listing.state == State.ACTIVE


def test_listing_release_never_exceeds_the_amount():
    # given
    listing = ListingFactory(amount=Decimal("10"))
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("1"))
    # when
    listing_release(listing_id=listing.pk, amount=Decimal("3"))
    # then
    listing.refresh_from_db()
    assert listing.remaining == Decimal("10")


def test_listing_release_of_a_sold_out_listing_past_its_expiry_expires_it():
    # given
    listing = ListingFactory(amount=Decimal("5"))
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("5"))
    Listing.objects.filter(pk=listing.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    # when
    listing_release(listing_id=listing.pk, amount=Decimal("5"))
    # then
    listing.refresh_from_db()
    assert listing.state == State.EXPIRED
    assert listing.remaining == Decimal("5")


@pytest.mark.parametrize("final", [State.CANCELLED, State.PAUSED])
def test_listing_release_keeps_a_cancelled_or_paused_state(final):
    # given
    listing = ListingFactory()
    listing_reserve(listing_id=listing.pk, taker=UserFactory(), amount=Decimal("4"))
    services.listing_transition(listing_id=listing.pk, to=final)
    # when
    listing_release(listing_id=listing.pk, amount=Decimal("4"))
    # then
    listing.refresh_from_db()
    assert listing.state == final
    assert listing.remaining == Decimal("10")


def test_listing_release_refuses_a_non_positive_amount():
    # given
    listing = ListingFactory()
    # when
    with pytest.raises(ListingError) as exc:
        listing_release(listing_id=listing.pk, amount=Decimal("0"))
    # then
    assert _code(exc) == "amount_not_positive"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (State.CANCELLED, State.ACTIVE),
        (State.EXPIRED, State.ACTIVE),
        (State.DRAFT, State.PAUSED),
        (State.PAUSED, State.SOLD_OUT),
        (State.DRAFT, State.SOLD_OUT),
    ],
)
def test_listing_transition_refuses_an_illegal_move(old, new):
    # given
    listing = ListingFactory(state=old)
    # when
    with pytest.raises(ListingError) as exc:
        services.listing_transition(listing_id=listing.pk, to=new)
    # then
    assert _code(exc) == "invalid_transition"
    listing.refresh_from_db()
    assert listing.state == old


def test_transitions_cover_every_state_and_the_constraint_lists_them():
    # then
    assert set(Listing.TRANSITIONS) == set(State.values) == set(STATES)
    assert not Listing.TRANSITIONS[State.CANCELLED]
    assert not Listing.TRANSITIONS[State.EXPIRED]


@pytest.mark.parametrize(
    "change",
    [
        {"remaining": Decimal("11")},
        {"remaining": Decimal("-1")},
        {"min_trade": Decimal("6")},
        {"price": None},
        {"price_margin_pct": Decimal("1")},
        {"state": "bogus"},
        {"amount": Decimal("0"), "remaining": Decimal("0")},
    ],
    ids=[
        "remaining_above",
        "remaining_negative",
        "min_above_max",
        "no_price",
        "two_prices",
        "bad_state",
        "zero_amount",
    ],
)
def test_database_constraints_refuse_inconsistent_rows(change):
    # given
    listing = ListingFactory()
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Listing.objects.filter(pk=listing.pk).update(**change)


def test_database_constraint_refuses_base_equal_to_quote():
    # given
    listing = ListingFactory()
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        Listing.objects.filter(pk=listing.pk).update(quote_asset=listing.base_asset)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_reservations_on_room_for_five_reserve_exactly_five(postgres_url):
    # given: 5 ETH, exactly 1 per trade; 20 takers, each on its own connection
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises the whole database")
    listing = ListingFactory(amount=Decimal("5"), min_trade=Decimal("1"), max_trade=Decimal("1"))
    takers = [UserFactory() for _ in range(20)]
    turn = iter(takers)
    lock = threading.Lock()

    def reserve():
        with lock:
            taker = next(turn)
        return listing_reserve(listing_id=listing.pk, taker=taker, amount=Decimal("1"))

    # when
    results = race(20, lambda _: reserve())
    # then
    succeeded = [r for r in results if isinstance(r, Listing)]
    refused = [r for r in results if not isinstance(r, Listing)]
    assert len(succeeded) == 5, results
    assert set(refused) <= {"insufficient_remaining", "listing_unavailable"}, refused
    listing.refresh_from_db()
    assert listing.remaining == 0
    assert listing.state == State.SOLD_OUT
    assert sorted(r.remaining for r in succeeded) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("0", "amount_not_positive"),
        ("1.0000000000000000001", "too_many_decimals"),
        ("6", "amount_above_maximum"),
        ("0.5", "amount_below_minimum"),
        ("2", None),
    ],
)
def test_the_quote_and_the_reservation_apply_one_take_rule(amount, code):
    # given: the swap quote asks listing_take_refusal; listing_reserve raises what it says
    from marketplace.selectors import listing_take_refusal

    listing = ListingFactory(amount=Decimal("10"), min_trade=Decimal("1"), max_trade=Decimal("5"))
    taker = UserFactory()
    # when
    refused = listing_take_refusal(listing=listing, taker=taker, amount=Decimal(amount))
    # then
    assert (refused[0].code if refused else None) == code
    if code is None:
        listing_reserve(listing_id=listing.pk, taker=taker, amount=Decimal(amount))
    else:
        with pytest.raises(ListingError) as raised:
            listing_reserve(listing_id=listing.pk, taker=taker, amount=Decimal(amount))
        assert _code(raised) == code


def test_the_take_rule_refuses_the_makers_own_listing_and_a_closed_one():
    from marketplace.selectors import listing_take_refusal

    # given
    listing = ListingFactory(amount=Decimal("10"), min_trade=Decimal("1"), max_trade=Decimal("5"))
    # then
    own = listing_take_refusal(listing=listing, taker=listing.maker, amount=Decimal("2"))
    assert own is not None and own[0].code == "own_listing"
    listing.state = "paused"
    closed = listing_take_refusal(listing=listing, taker=UserFactory(), amount=Decimal("2"))
    assert closed is not None and closed[0].code == "listing_unavailable"
