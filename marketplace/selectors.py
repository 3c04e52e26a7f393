"""Reads of listings and their prices. Market-relative prices are computed at read time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    Expression,
    F,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Ceil, Coalesce, Greatest, Least

from accounts.models import User
from chains.models import Asset
from core.api.refusals import Refusal
from core.decimals import CTX, decimal_places, places, round_up
from core.fields import ExactDecimalField
from marketplace import errors
from marketplace.models import Listing
from marketplace.search import filter_terms
from oracle.aggregation import Aggregate
from oracle.selectors import price_get, price_list, price_pair

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ListingQuote:
    """What a trade of `amount` base units costs now: the price and the quote amount."""

    price: Decimal
    quote_amount: Decimal


def _with_relations(qs: QuerySet[Listing]) -> QuerySet[Listing]:
    return qs.select_related("base_asset", "quote_asset", "maker", "maker__reputation")


def listing_get(*, listing_id: int) -> Listing | None:
    """A listing that is not deleted (hidden ones included), with its assets and maker."""
    return _with_relations(Listing.objects.filter(pk=listing_id, deleted_at__isnull=True)).first()


def listing_get_for(*, listing_id: int, viewer: User | None) -> Listing | None:
    """The listing if `viewer` (None: anonymous) may see it (``Listing.is_visible_to``), else
    None: deleted ones for nobody, hidden ones for their maker only."""
    listing = listing_get(listing_id=listing_id)
    return listing if listing is not None and listing.is_visible_to(viewer) else None


def listing_take_refusal(
    *, listing: Listing, taker: User, amount: Decimal
) -> tuple[Refusal, dict[str, Any]] | None:
    """Why ``taker`` may not take ``amount`` of ``listing`` now, as the refusal and its
    message's parameters, or None. The one rule both ``services.listing_reserve`` (on the
    locked row) and the swap quote (without a lock) apply. No query.

    A trade below ``min_trade`` is allowed only when it takes everything that remains.
    """
    if not listing.is_takeable():
        return errors.LISTING_UNAVAILABLE, {}
    if listing.maker_id == taker.pk:
        return errors.OWN_LISTING, {}
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        return errors.AMOUNT_NOT_POSITIVE, {}
    allowed = places(listing.base_asset.decimals)
    if decimal_places(amount) > allowed:
        return errors.TOO_MANY_DECIMALS, {"symbol": listing.base_asset.symbol, "places": allowed}
    if amount > listing.max_trade:
        return errors.AMOUNT_ABOVE_MAXIMUM, {}
    if amount > listing.remaining:
        return errors.INSUFFICIENT_REMAINING, {}
    # Taking the whole rest is allowed below the minimum, or it could never be sold.
    if amount < listing.min_trade and amount != listing.remaining:
        return errors.AMOUNT_BELOW_MINIMUM, {}
    return None


def effective_price(listing: Listing, agg: Aggregate | None) -> Decimal | None:
    """The listing's price given the oracle's aggregate for its pair (None: unavailable).

    Market-relative: oracle price × (1 + margin/100), clamped to the floor and ceiling,
    rounded up to the quote asset's places (the maker never sells below their margin).
    """
    if listing.price is not None:
        return listing.price
    if agg is None or not agg.tradeable or agg.price is None or listing.price_margin_pct is None:
        return None
    factor = CTX.add(1, CTX.divide(listing.price_margin_pct, _HUNDRED))
    value = CTX.multiply(agg.price, factor)
    if listing.price_floor is not None and value < listing.price_floor:
        value = listing.price_floor
    if listing.price_ceiling is not None and value > listing.price_ceiling:
        value = listing.price_ceiling
    value = round_up(value, listing.quote_asset.decimals)
    return value if value > 0 else None


def listing_price(listing: Listing) -> Decimal | None:
    """The listing's current price in quote per base.

    None when it is market-relative and the oracle does not know its pair, or has halted
    it, or the price is stale: such a listing shows as unavailable, never at an old price.
    """
    if listing.price is not None:
        return listing.price
    return effective_price(listing, price_get(listing.price_pair))


def listing_prices(
    listings: list[Listing], *, oracle: dict[str, Aggregate | None] | None = None
) -> dict[int, Decimal | None]:
    """Current prices of many listings, by listing id. The oracle is read once for all the
    pairs not already in `oracle` (prices a search read moments ago, in the same request)."""
    known = dict(oracle or {})
    missing = sorted({lst.price_pair for lst in listings if lst.price is None} - set(known))
    if missing:
        known.update(zip(missing, price_list(pairs=missing), strict=True))
    return {lst.pk: effective_price(lst, known.get(lst.price_pair)) for lst in listings}


def band_rate(*, base: Asset, quote: Asset, price: Decimal) -> Decimal | None:
    """The oracle's rate when the fixed `price` is more than
    ``LISTING_MAX_PRICE_DEVIATION_PCT`` away from it (None: within the band, or no rate to
    compare with — a pair the oracle cannot price cannot be taken anyway)."""
    agg = price_get(price_pair(base.priced_as, quote.priced_as))
    if agg is None or not agg.tradeable or agg.price is None or agg.price <= 0:
        return None
    deviation = CTX.multiply(abs(CTX.divide(price, agg.price) - 1), 100)
    return agg.price if deviation > settings.LISTING_MAX_PRICE_DEVIATION_PCT else None


def listing_quote(*, listing: Listing, amount: Decimal) -> ListingQuote:
    """The price now and the quote amount for `amount` base units, rounded up to the quote
    asset's places (the maker never receives less than the price says).

    Raises ``ListingError`` ``price_unavailable`` (409) when the price is unavailable.
    """
    price = listing_price(listing)
    if price is None:
        raise errors.refuse(errors.PRICE_UNAVAILABLE)
    quote_amount = round_up(CTX.multiply(amount, price), listing.quote_asset.decimals)
    return ListingQuote(price=price, quote_amount=quote_amount)


# --------------------------------------------------------------------------- the offer book

ORDERINGS = ("newest", "price", "-price", "reputation")
KYC_ORDER: list[str] = [User.KycLevel.NONE, User.KycLevel.BASIC, User.KycLevel.VERIFIED]


def _pair_asset_ids(pair: str, assets: list[Asset]) -> tuple[list[int], list[int]]:
    base, _sep, quote = pair.upper().partition("-")
    return [a.pk for a in assets if a.symbol == base], [a.pk for a in assets if a.symbol == quote]


def _column(name: str) -> Any:
    # SQLite keeps these columns as fixed-width text (core/fields.py); compare numbers.
    if connection.vendor == "sqlite":
        return Cast(F(name), DecimalField(max_digits=60, decimal_places=18))
    return F(name)


def _price_pairs(
    assets: list[Asset], base_ids: set[int] | None, quote_ids: set[int] | None
) -> list[tuple[str, list[int], list[Asset]]]:
    """(oracle pair, base asset ids, quote assets) for every pair of price symbols
    (``Asset.priced_as``) among `assets`, limited to `base_ids` x `quote_ids` when given.
    Both sides may have the same price symbol (ETH on one network for ETH on another)."""
    by_symbol: dict[str, list[Asset]] = defaultdict(list)
    for asset in assets:
        by_symbol[asset.priced_as].append(asset)
    found = []
    for base_symbol, bases in by_symbol.items():
        base_pks = sorted(a.pk for a in bases if base_ids is None or a.pk in base_ids)
        for quote_symbol, quotes in by_symbol.items():
            wanted = [a for a in quotes if quote_ids is None or a.pk in quote_ids]
            if base_pks and wanted:
                found.append((price_pair(base_symbol, quote_symbol), base_pks, wanted))
    return found


def effective_price_expression(
    pairs: list[tuple[str, list[int], list[Asset]]],
    oracle: dict[str, Aggregate | None],
    *,
    fixed: bool = True,
    covered: bool = False,
) -> Expression:
    """SQL for each listing's current price, as ``effective_price`` computes it in Python.

    Fixed: the price column (left out with ``fixed=False``, for market listings only).
    Market-relative: for each of `pairs` the oracle has a tradeable price P for (from
    `oracle`, read once per request), ``(100 + margin) * P/100`` clamped to the floor and
    ceiling and rounded up to the quote asset's places, P passed as a parameter. NULL when
    the oracle has no tradeable price for the pair (such listings sort last and fail price
    filters). ``covered``: every row it is applied to is of one of `pairs`' asset pairs (the
    query filters on them); with one such pair and one quote precision, and no fixed price,
    the price needs no ``CASE`` around it (evaluated for every row of a search).
    """
    sqlite = connection.vendor == "sqlite"
    out = DecimalField(max_digits=60, decimal_places=18) if sqlite else ExactDecimalField()
    whens = [When(price__isnull=False, then=_column("price"))] if fixed else []
    for pair, bases, quotes in pairs:
        agg = oracle.get(pair)
        if agg is None or not agg.tradeable or agg.price is None:
            continue
        per_hundredth = Value(CTX.divide(agg.price, 100), output_field=out)
        raw = (Value(Decimal(100), output_field=out) + F("price_margin_pct")) * per_hundredth
        if sqlite:  # SQLite's MAX/MIN return NULL when any argument is NULL
            floored = Greatest(raw, Coalesce(_column("price_floor"), raw), output_field=out)
            clamped = Least(floored, Coalesce(_column("price_ceiling"), floored), output_field=out)
        else:  # PostgreSQL's GREATEST/LEAST skip NULLs: no floor or ceiling, no clamp
            floored = Greatest(raw, F("price_floor"), output_field=out)
            clamped = Least(floored, F("price_ceiling"), output_field=out)
        by_places: dict[int, list[int]] = defaultdict(list)
        for quote in quotes:
            by_places[places(quote.decimals)].append(quote.pk)
        for quote_places, ids in sorted(by_places.items()):
            scale = Value(Decimal(10) ** quote_places, output_field=out)
            rounded = Ceil(clamped * scale, output_field=out) / scale
            whens.append(When(base_asset_id__in=bases, quote_asset_id__in=ids, then=rounded))
    if not whens:  # typed, so a UNION with the fixed arm's numeric column stays valid
        return Cast(Value(None), output_field=out)
    groups = sum(len({places(q.decimals) for q in quotes}) for _p, _b, quotes in pairs)
    if covered and not fixed and groups == 1:
        return whens[0].result  # the only group, and it has a price
    return Case(*whens, default=Value(None, output_field=out), output_field=out)


def _compiled(query: QuerySet[Any]) -> tuple[str, tuple] | None:
    """The SQL and parameters of `query`, for a statement written around it; None when it
    can match nothing (a filter on an empty list: the ORM then sends no SQL at all, and
    compiling it raises), such as a pair whose assets are not registered."""
    try:
        return query.query.sql_with_params()
    except EmptyResultSet:
        return None


@dataclass(frozen=True)
class _PriceHeads:
    """A search by price read in one statement on PostgreSQL (``ListingResults._merged``).

    ``fixed_heads``: the fixed-price listings of one (base, quote) asset pair each, so that
    ``listing_book_fixed`` yields them in price order and the head stops after `limit` rows
    (over several pairs at once the database sorts every match); ``fixed``: all of them, for
    their count (an index-only scan without the window and the sort). ``market``: the
    market-relative ones with ``effective_price`` annotated and not yet filtered by it: the
    statement computes that price once per row, in a subquery, for the range, the order and
    the count (the ORM repeats the expression in each place).
    """

    fixed_heads: Sequence[QuerySet[Any]]
    fixed: QuerySet[Any]
    market: QuerySet[Any]
    price_min: Decimal | None
    price_max: Decimal | None

    def read(self, limit: int, *, descending: bool) -> tuple[list[tuple], int]:
        """(effective price, created_at, id) of each arm's first `limit` rows in price order,
        and how many rows both arms hold."""
        # The statement joins SQL that the ORM compiled (values travel as parameters) with
        # constants of this function only: hence the noqa S608 below.
        fields = ("effective_price", "created_at", "id")
        direction = "DESC" if descending else "ASC"
        order = f"ORDER BY 1 {direction} NULLS LAST, 2 DESC, 3 DESC LIMIT {int(limit)}"
        parts: list[str] = []
        params: list[Any] = []
        for head in self.fixed_heads:
            compiled = _compiled(head.order_by().values_list(*fields))
            if compiled is not None:
                parts.append(f"(SELECT h.*, NULL::bigint FROM ({compiled[0]}) h {order})")  # noqa: S608
                params.extend(compiled[1])
        compiled = _compiled(self.fixed.order_by().values("id"))
        if compiled is not None:
            count = f"COUNT(*) FROM ({compiled[0]}) c"
            parts.append(f"(SELECT NULL::numeric, NULL::timestamptz, NULL::bigint, {count})")
            params.extend(compiled[1])
        compiled = _compiled(self.market.order_by().values_list(*fields))
        if compiled is not None:
            params.extend(compiled[1])
            bounds = []
            for op, bound in ((">=", self.price_min), ("<=", self.price_max)):
                if bound is not None:
                    bounds.append(f"m.effective_price {op} %s")
                    params.append(bound)
            where = f"WHERE {' AND '.join(bounds)}" if bounds else ""
            parts.append(
                f"(SELECT m.*, COUNT(*) OVER () FROM ({compiled[0]} OFFSET 0) m {where} {order})"  # noqa: S608
            )
        if not parts:
            return [], 0
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            found = cursor.fetchall()
        rows = [row[:3] for row in found if row[2] is not None]
        # The count row carries the fixed arm's count; every market row carries that arm's.
        total = sum(row[3] for row in found if row[2] is None)
        total += next((row[3] for row in found if row[2] is not None and row[3] is not None), 0)
        return rows, total


class ListingResults:
    """Search results read in two steps: the ordered ids of a page, then those rows.

    Ordering and counting touch only the narrow offer-book indexes (index-only scans on
    PostgreSQL) instead of sorting wide joined rows; the page's rows then come with their
    assets and maker in one more query. Results sorted by price come from two "arms":
    fixed-price listings, which an index orders and bounds by their price column, and
    market-relative ones, priced in SQL from the oracle; each arm's first rows are read in
    one ``UNION ALL`` and merged here. Paginators accept this object like a queryset.
    ``oracle`` holds the prices read for this search, for ``listing_prices`` to reuse.
    """

    ordered = True
    # Price searches read each arm's first rows together with its count; deeper pages re-read.
    PREFETCH = 100
    # Other searches read their first ids with the count (a page of up to 50 without another
    # query); a larger head would make an index walk that filters as it goes read more rows.
    HEAD = 50

    def __init__(
        self,
        arms: list[QuerySet[Listing]],
        *,
        descending: bool = False,
        oracle: dict[str, Aggregate | None] | None = None,
        by_price: _PriceHeads | None = None,
        sorts_all: bool = False,
        assets: list[Asset] | None = None,
    ) -> None:
        self.arms = arms
        # The assets the search read (all of them), given to the page's rows instead of two
        # more joins to plan and run for each page.
        self.assets = {asset.pk: asset for asset in assets} if assets else None
        self.descending = descending
        self.oracle = oracle or {}
        self.by_price = by_price
        self.sorts_all = sorts_all
        self._heads: tuple[int, list[tuple], int] | None = None  # (limit, rows, total)
        self._head: tuple[list[int], int] | None = None  # one arm: (first HEAD ids, total)

    def count(self) -> int:
        if len(self.arms) == 1:
            return self._single()[1]
        return self._merged(self.PREFETCH)[1]

    def _single(self) -> tuple[list[int], int]:
        """One arm's first ``HEAD`` ids in order and its count, in one query.

        The count is a scalar subquery (run once, with its own plan: an index-only count)
        beside the ids (an index walk that stops early) when an index can give the order;
        with ``sorts_all`` (an order no index gives, so every match is read and sorted
        anyway) it is ``COUNT(*) OVER ()`` over that same pass. SQLite always takes the
        window: the query written twice can overflow its parser's stack.
        """
        if self._head is None:
            arm = self.arms[0]
            total: Any
            if self.sorts_all or connection.vendor != "postgresql":
                total = Window(Count("id"))
            else:
                # Compiled on its own, not as a Subquery: search.terms_vector names the
                # table, which inside a Subquery would be the outer row's (correlated).
                compiled = _compiled(arm.order_by().values("id"))
                if compiled is None:
                    self._head = ([], 0)
                    return self._head
                count_sql = f"SELECT COUNT(*) FROM ({compiled[0]}) c"  # noqa: S608 (the ORM's SQL)
                total = RawSQL(count_sql, compiled[1])  # noqa: S611
            rows = list(arm.annotate(total=total).values_list("id", "total")[: self.HEAD])
            # No first row means no row at all: the head starts at the first.
            self._head = ([row[0] for row in rows], rows[0][1] if rows else 0)
        return self._head

    def __len__(self) -> int:
        return self.count()

    def _merged(self, stop: int) -> tuple[list[tuple], int]:
        """The first `stop` rows of every arm, merged in order, and the total count, in one
        query (``UNION ALL`` of each arm's head; ``COUNT(*) OVER ()`` counts each arm)."""
        if self._heads is not None and self._heads[0] >= stop:
            return self._heads[1], self._heads[2]
        limit = max(stop, self.PREFETCH)
        if self.by_price is not None and connection.vendor == "postgresql":
            rows, total = self.by_price.read(limit, descending=self.descending)
        else:
            rows, total = self._arm_heads(limit)
        sign = -1 if self.descending else 1
        rows.sort(
            key=lambda row: (
                row[0] is None,
                sign * row[0] if row[0] is not None else 0,
                -row[1].timestamp(),
                -row[2],
            )
        )
        self._heads = (limit, rows, total)
        return rows, total

    def _arm_heads(self, limit: int) -> tuple[list[tuple], int]:
        # effective_price is annotated on every arm by listing_search.
        heads = [
            arm.annotate(arm=Value(number), arm_total=Window(Count("id"))).values_list(
                "effective_price", "created_at", "id", "arm", "arm_total"
            )[:limit]  # type: ignore[misc]
            for number, arm in enumerate(self.arms)
        ]
        if connection.features.supports_slicing_ordering_in_compound:
            rows = list(heads[0].union(*heads[1:], all=True))
        else:
            rows = [row for head in heads for row in head]
        # Every row of an arm carries that arm's total; an arm without rows counts 0.
        total = sum(dict((row[3], row[4]) for row in rows).values())
        return rows, total

    def _ids(self, index: slice) -> list[int]:
        if len(self.arms) == 1:
            if index.stop is not None and index.stop <= self.HEAD:
                return self._single()[0][index]
            return list(self.arms[0].values_list("id", flat=True)[index])
        start = index.start or 0
        stop = index.stop if index.stop is not None else self.count()
        # Each arm is sorted by (price, newest, id): the page is within each arm's first rows.
        rows, _total = self._merged(stop)
        return [row[2] for row in rows[start:stop]]

    def __getitem__(self, index: slice) -> list[Listing]:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("ListingResults supports plain slices only")
        ids = self._ids(index)
        assets = self.assets
        page = Listing.objects.filter(pk__in=ids)
        if assets is None:
            found = list(_with_relations(page))
        else:
            found = list(page.select_related("maker", "maker__reputation"))
            if all(r.base_asset_id in assets and r.quote_asset_id in assets for r in found):
                for row in found:
                    row.base_asset = assets[row.base_asset_id]
                    row.quote_asset = assets[row.quote_asset_id]
            else:  # an asset added since the search read them
                found = list(_with_relations(page))
        rows = {row.pk: row for row in found}
        return [rows[pk] for pk in ids if pk in rows]

    def __iter__(self):
        return iter(self[:])


def listing_search(
    *,
    pair: str | None = None,
    base_asset_id: int | None = None,
    quote_asset_id: int | None = None,
    min_amount: Decimal | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    maker_min_completed: int | None = None,
    maker_kyc: str | None = None,
    text: str | None = None,
    ordering: str = "newest",
    now: datetime | None = None,
) -> ListingResults:
    """The offer book: visible listings matching every given filter, in `ordering`.

    ``pair`` is ``BASE-QUOTE`` by symbol (every network); ``min_amount`` keeps listings that
    can sell at least that much in one trade; ``price_min``/``price_max`` bound the current
    price (market-relative ones at the oracle price now); ``maker_min_completed`` is the
    maker's completed swaps (no reputation row counts as 0); ``maker_kyc`` is a minimum
    KYC level; ``text`` searches the terms (full-text on PostgreSQL). ``ordering`` is one of
    ``newest`` (default), ``price``, ``-price`` (unavailable prices last), ``reputation``.
    Ties break by newest, then id, so pages are stable. Returns a ``ListingResults``
    (count it, slice it, iterate it) of listings with their assets and maker joined.
    """
    qs: QuerySet[Listing] = Listing.objects.visible(now=now)
    by_price = ordering in ("price", "-price")
    ranged = price_min is not None or price_max is not None
    assets = list(Asset.objects.all()) if pair or by_price or ranged else []
    base_ids: set[int] | None = None
    quote_ids: set[int] | None = None
    if pair:
        bases, quotes = _pair_asset_ids(pair, assets)
        base_ids, quote_ids = set(bases), set(quotes)
        qs = qs.filter(base_asset_id__in=bases, quote_asset_id__in=quotes)
    if base_asset_id is not None:
        qs = qs.filter(base_asset_id=base_asset_id)
    if quote_asset_id is not None:
        qs = qs.filter(quote_asset_id=quote_asset_id)
    if min_amount is not None:
        qs = qs.filter(remaining__gte=min_amount, max_trade__gte=min_amount)
    if maker_min_completed is not None and maker_min_completed > 0:
        qs = qs.filter(maker__reputation__completed_swaps__gte=maker_min_completed)
    if maker_kyc:
        qs = qs.filter(maker__kyc_level__in=KYC_ORDER[KYC_ORDER.index(maker_kyc) :])
    if text:
        qs = filter_terms(qs, text)
    newest: list[Any] = ["-created_at", "-id"]
    order: list[Any] = newest
    if ordering == "reputation":
        order = [Coalesce(F("maker__reputation__completed_swaps"), 0).desc(), *newest]
    if not by_price and not ranged:
        return ListingResults(
            [qs.order_by(*order)], sorts_all=ordering == "reputation", assets=assets
        )
    pairs = _price_pairs(assets, base_ids, quote_ids)
    names = [name for name, _b, _q in pairs]
    oracle = dict(zip(names, price_list(pairs=names), strict=True)) if names else {}
    market_price = effective_price_expression(pairs, oracle, fixed=False, covered=bool(pair))
    # Fixed prices filter and sort on their own column (an index holds it); market-relative
    # ones on the price computed from the oracle now.
    fixed = qs.filter(price__isnull=False).annotate(effective_price=F("price"))
    market = qs.filter(price__isnull=True).annotate(effective_price=market_price)
    unranged = market
    if price_min is not None:
        fixed = fixed.filter(price__gte=price_min)
        market = market.filter(effective_price__gte=price_min)
    if price_max is not None:
        fixed = fixed.filter(price__lte=price_max)
        market = market.filter(effective_price__lte=price_max)
    if not by_price:  # a price range in another order: one query, both kinds
        both = Q(pk__in=fixed.values("pk")) | Q(pk__in=market.values("pk"))
        return ListingResults(
            [qs.filter(both).order_by(*order)],
            oracle=oracle,
            sorts_all=ordering == "reputation",
            assets=assets,
        )
    descending = ordering == "-price"
    key = F("effective_price")
    by = key.desc(nulls_last=True) if descending else key.asc(nulls_last=True)
    # One fixed-price head per (base, quote) asset pair of the search, in index order.
    combos = [(b, q) for b in sorted(base_ids or ()) for q in sorted(quote_ids or ())]
    heads = [fixed.filter(base_asset_id=b, quote_asset_id=q) for b, q in combos] or [fixed]
    return ListingResults(
        [fixed.order_by(by, *newest), market.order_by(by, *newest)],
        descending=descending,
        oracle=oracle,
        by_price=_PriceHeads(heads, fixed, unranged, price_min, price_max),
        assets=assets,
    )


def listing_list_for_maker(*, maker: User) -> QuerySet[Listing]:
    """Every listing of `maker` that is not deleted, in any state, newest first."""
    return _with_relations(Listing.objects.filter(maker=maker, deleted_at__isnull=True)).order_by(
        "-created_at", "-pk"
    )


@dataclass(frozen=True)
class MarketSummary:
    """One market of the offer book: both assets with their networks, how many visible
    listings, and the oracle's price for it (by the assets' price symbols)."""

    base: Asset
    quote: Asset
    listings: int
    oracle: Aggregate | None

    @property
    def pair(self) -> str:
        return f"{self.base.symbol}-{self.quote.symbol}"


def market_list() -> list[MarketSummary]:
    """Markets with at least one visible listing, by symbols then networks, each with the
    oracle's price. Three queries whatever the number of markets."""
    rows = list(
        Listing.objects.visible()
        .values("base_asset_id", "quote_asset_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    assets = Asset.objects.in_bulk(
        {r["base_asset_id"] for r in rows} | {r["quote_asset_id"] for r in rows}
    )
    markets = [(assets[r["base_asset_id"]], assets[r["quote_asset_id"]], r["n"]) for r in rows]
    markets.sort(key=lambda m: (m[0].symbol, m[1].symbol, m[0].network, m[1].network))
    names = [price_pair(base.priced_as, quote.priced_as) for base, quote, _ in markets]
    aggs = price_list(pairs=names) if names else []
    return [
        MarketSummary(base=base, quote=quote, listings=n, oracle=agg)
        for (base, quote, n), agg in zip(markets, aggs, strict=True)
    ]


def market_assets(base_label: str, quote_label: str) -> tuple[Asset, Asset] | None:
    """The two enabled assets a market URL names (``SYMBOL@network`` each), or None."""
    found = []
    for label in (base_label, quote_label):
        symbol, sep, network = label.partition("@")
        asset = (
            Asset.objects.filter(symbol__iexact=symbol, network=network, enabled=True).first()
            if sep
            else None
        )
        if asset is None:
            return None
        found.append(asset)
    base, quote = found
    return (base, quote) if base.pk != quote.pk else None


# --------------------------------------------------------------------------- both sides

ASK, BID = "ask", "bid"


@dataclass(frozen=True)
class BookEntry:
    """One offer on one side of a market, in the market's own terms (base and quote).

    An ask sells the base asset: its listing's price and remaining amount as they are. A bid
    is a listing of the reverse market (it sells the quote asset for the base asset), read as
    buying the base: ``price`` is the inverse of its own price (quote per base), ``amount`` the
    base it pays for everything left (its remaining times its own price). ``own_price`` is
    the listing's price as its maker set it, the exact figure behind both.
    """

    listing: Listing
    side: str
    price: Decimal | None
    amount: Decimal | None
    own_price: Decimal | None


@dataclass(frozen=True)
class DepthLevel:
    """All offers of one side at one price, and the running total from the best price."""

    price: Decimal
    amount: Decimal
    total: Decimal


@dataclass(frozen=True)
class BookSide:
    entries: list[BookEntry]
    count: int


def _entry(listing: Listing, side: str, own_price: Decimal | None) -> BookEntry:
    if side == ASK:
        return BookEntry(listing, ASK, own_price, listing.remaining, own_price)
    if own_price is None or own_price <= 0:
        return BookEntry(listing, BID, None, None, own_price)
    return BookEntry(
        listing,
        BID,
        CTX.divide(1, own_price),
        CTX.multiply(listing.remaining, own_price),
        own_price,
    )


def _inverse(value: Decimal | None) -> Decimal | None:
    return CTX.divide(1, value) if value is not None and value > 0 else None


def market_side(
    *,
    side: str,
    where: dict[str, Any],
    limit: int,
    ordering: str = "price",
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    **filters: Any,
) -> BookSide:
    """The first `limit` offers of one side of a market and how many there are.

    `where` selects the listings (``pair=`` or ``base_asset_id=``/``quote_asset_id=``, the
    reverse market's for bids); `price_min`/`price_max` are in the market's terms (quote per
    base) and are inverted for bids. ``ordering="price"`` is best first on both sides: asks
    cheapest first, bids paying most first (their own price lowest first). Other filters as
    ``listing_search``. Three queries with a price ordering or range, two otherwise.
    """
    if side == BID:
        price_min, price_max = _inverse(price_max), _inverse(price_min)
    results = listing_search(
        **where, ordering=ordering, price_min=price_min, price_max=price_max, **filters
    )
    listings = results[:limit]
    prices = listing_prices(listings, oracle=results.oracle)
    entries = [_entry(listing, side, prices.get(listing.pk)) for listing in listings]
    count = len(entries) if len(entries) < limit else results.count()
    return BookSide(entries=entries, count=count)


def market_depth(entries: list[BookEntry]) -> list[DepthLevel]:
    """Price levels of one side's `entries` (best first, as ``market_side`` orders them),
    each with the amount offered at it and the running total. Unpriced offers are left out."""
    levels: dict[Decimal, Decimal] = {}
    for entry in entries:
        if entry.price is None or entry.amount is None or entry.amount <= 0:
            continue
        levels[entry.price] = CTX.add(levels.get(entry.price, Decimal(0)), entry.amount)
    if not entries:
        return []
    descending = entries[0].side == BID
    out, total = [], Decimal(0)
    for price in sorted(levels, reverse=descending):
        total = CTX.add(total, levels[price])
        out.append(DepthLevel(price=price, amount=levels[price], total=total))
    return out


def maker_get(*, user_id: int) -> User | None:
    """A user who may have a public page: active and not deleted, with their reputation."""
    return (
        User.objects.select_related("reputation")
        .filter(pk=user_id, is_active=True, deleted_at__isnull=True)
        .first()
    )


def listing_list_public_for_maker(*, maker: User, limit: int = 50) -> list[Listing]:
    """`maker`'s listings in the offer book (``visible``), newest first, at most `limit`."""
    return list(
        _with_relations(Listing.objects.visible().filter(maker=maker)).order_by(
            "-created_at", "-pk"
        )[:limit]
    )
