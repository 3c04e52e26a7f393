"""PostgreSQL search: full-text on the stored tsvector, and the offer-book indexes in use."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction

from marketplace import services
from marketplace.models import Listing
from marketplace.selectors import listing_search
from marketplace.tests.factories import ListingFactory, eth_asset, token_asset
from marketplace.tests.support import publish_prices

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _postgres_only(postgres_url):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL full-text search and indexes; SQLite uses icontains")


def _seed_book(count: int = 3000, *, vacuum: bool = False) -> None:
    """Enough rows over several pairs, analysed, for the planner to prefer real plans."""
    template = ListingFactory()
    eth, eth_b, token = eth_asset(), eth_asset("local-b"), token_asset()
    pairs = [(eth, token), (eth_b, token), (token, eth), (eth, eth_b)]
    words = ["fast", "bank", "evening", "escrow", "friendly", "weekend"]
    rows = []
    for i in range(count):
        base, quote = pairs[i % len(pairs)]
        market = i % 5 == 0
        rows.append(
            Listing(
                maker_id=template.maker_id,
                base_asset=base,
                quote_asset=quote,
                amount=Decimal(10),
                remaining=Decimal(10),
                min_trade=Decimal(1),
                max_trade=Decimal(5),
                price=None if market else Decimal(1900 + i % 200),
                price_margin_pct=Decimal(i % 7) if market else None,
                payout_address=template.payout_address,
                refund_address=template.refund_address,
                terms=" ".join(words[(i + k) % len(words)] for k in range(i % 3 + 1)),
            )
        )
    Listing.objects.bulk_create(rows)
    with connection.cursor() as cursor:
        # VACUUM also fills the visibility map that index-only scans rely on.
        cursor.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE marketplace_listing")


def _plan(sql: str, params) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # Test tables are tiny: forbid sequential scans to see which index a query can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_full_text_search_stems_and_understands_web_search_syntax():
    # given
    trusted = ListingFactory(terms="Trusted traders only; payments within minutes")
    bank = ListingFactory(terms="Bank transfers accepted")
    ListingFactory(terms="Cash in person")
    # then
    assert [lst.pk for lst in listing_search(text="payment")] == [trusted.pk]
    assert {lst.pk for lst in listing_search(text="bank or trusted")} == {trusted.pk, bank.pk}
    assert [lst.pk for lst in listing_search(text="transfer -cash")] == [bank.pk]
    assert list(listing_search(text='"minutes payments"')) == []


def test_the_stored_vector_follows_edited_terms():
    # given
    listing = ListingFactory(terms="evening trades")
    # when
    services.listing_update(
        listing_id=listing.pk, maker=listing.maker, changes={"terms": "weekend"}
    )
    # then
    assert [lst.pk for lst in listing_search(text="weekend")] == [listing.pk]
    assert list(listing_search(text="evening")) == []


def test_text_search_can_use_the_gin_index():
    # given
    _seed_book()
    ListingFactory(terms="a rare word: zanzibar")
    results = listing_search(text="zanzibar")
    sql, params = results.arms[0].order_by().values("id").query.sql_with_params()
    # then
    assert "listing_terms_tsv" in _plan(sql, params)


@pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside a transaction
def test_pair_counts_and_price_order_read_only_the_offer_book_indexes(settings):
    # given
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    _seed_book(vacuum=True)
    newest = listing_search(pair="ETH-TEST")
    by_price = listing_search(
        pair="ETH-TEST", ordering="price", price_min=Decimal("1950"), price_max=Decimal("1960")
    )
    fixed, market = by_price.arms
    # when
    count_plan = _plan(*newest.arms[0].order_by().values("id").query.sql_with_params())
    fixed_plan = _plan(*fixed.values_list("id", flat=True)[:20].query.sql_with_params())
    market_plan = _plan(*market.values_list("id", flat=True)[:20].query.sql_with_params())
    # then
    assert "Index Only Scan using listing_book " in count_plan
    assert "Index Only Scan using listing_book_fixed" in fixed_plan
    assert "Index Only Scan using listing_book_market" in market_plan


@pytest.mark.parametrize("ordering", ["price", "-price"])
@pytest.mark.parametrize(
    ("pair", "price_min", "price_max"),
    [
        ("ETH-TEST", None, None),
        ("ETH-TEST", "1950", "2010"),
        (None, "1990", None),
        ("TEST-ETH", None, "1"),
    ],
)
def test_price_order_in_one_statement_matches_the_orm_arms(
    settings, ordering, pair, price_min, price_max
):
    # given: both kinds over several pairs, price ties, floors and ceilings
    publish_prices(settings, {"ETH-USD": "2000", "TEST-USD": "1"})
    _seed_book(400)
    for margin, floor, ceiling in [("1", "2030", None), ("-2", None, "1950"), ("0.5", None, None)]:
        ListingFactory(
            market=True,
            price_margin_pct=Decimal(margin),
            price_floor=Decimal(floor) if floor else None,
            price_ceiling=Decimal(ceiling) if ceiling else None,
        )
    bounds = {
        "price_min": Decimal(price_min) if price_min else None,
        "price_max": Decimal(price_max) if price_max else None,
    }
    # when: one statement (PostgreSQL), and the ORM's arms with their window counts
    one = listing_search(pair=pair, ordering=ordering, **bounds)
    arms = listing_search(pair=pair, ordering=ordering, **bounds)
    arms.by_price = None
    # then: the same count, and the same listings in the same order, across pages
    assert one.by_price is not None
    assert one.count() == arms.count()
    assert [lst.pk for lst in one[:150]] == [lst.pk for lst in arms[:150]]
    assert [lst.pk for lst in one[100:130]] == [lst.pk for lst in arms[100:130]]


@pytest.mark.django_db(transaction=True)  # VACUUM cannot run inside a transaction
def test_pair_and_text_search_reads_only_the_covering_index():
    # given
    _seed_book(vacuum=True)
    results = listing_search(pair="ETH-TEST", text="fast", ordering="reputation")
    # when
    plan = _plan(*results.arms[0].order_by().values("id").query.sql_with_params())
    # then
    assert "Index Only Scan using listing_book_terms" in plan
