"""Marketplace pages: pairs, the offer book of a pair, a listing, create/edit, my listings."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import ValidationError as ApiValidationError

from accounts.models import User
from accounts.profile_sections import public_sections
from accounts.selectors import public_reputation, wallet_list
from chains.models import Asset
from core.decimals import format_plain
from marketplace import selectors, services
from marketplace.cache import cached_read
from marketplace.charts import depth_chart
from marketplace.errors import ListingError
from marketplace.forms import ListingForm, MarketFilterForm
from marketplace.models import Listing
from marketplace.selectors import ASK, BID, BookEntry, BookSide
from oracle.charts import price_chart
from oracle.selectors import (
    CHART_RANGES,
    DEFAULT_CHART_RANGE,
    price_get,
    price_history,
    price_pair,
)

PAIR_RE = re.compile(r"^[A-Z0-9.]{1,16}-[A-Z0-9.]{1,16}$")
PAGE_SIZE = 20
BOOK_ROWS = 25  # offers listed per side of a market page
DEPTH_ROWS = 100  # offers per side the depth chart sums up


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _rows(listings: list[Listing], oracle=None) -> list[dict]:
    """Listings with their current price and amounts shown to each asset's places, exact and
    without trailing zeros (3, not 3.000…)."""
    prices = selectors.listing_prices(listings, oracle=oracle)
    rows = []
    for listing in listings:
        base, quote = listing.base_asset.decimals, listing.quote_asset.decimals
        rows.append(
            {
                "listing": listing,
                "price": format_plain(prices.get(listing.pk), quote),
                "remaining": format_plain(listing.remaining, base),
                "amount": format_plain(listing.amount, base),
                "min_trade": format_plain(listing.min_trade, base),
                "max_trade": format_plain(listing.max_trade, base),
                "floor": format_plain(listing.price_floor, quote),
                "ceiling": format_plain(listing.price_ceiling, quote),
                "margin": format_plain(listing.price_margin_pct),
            }
        )
    return rows


@require_GET
def pairs(request: HttpRequest) -> HttpResponse:
    return render(request, "marketplace/pairs.html", {"markets": selectors.market_list()})


@dataclass(frozen=True)
class _Market:
    """What a market page shows: its title, the two sides' listings, the oracle's pair."""

    title: str
    base: str  # symbols, for units
    quote: str
    oracle_pair: str
    asks_where: dict[str, Any]
    bids_where: dict[str, Any]
    reverse_url: str
    base_places: int | None = None
    quote_places: int | None = None
    base_asset: Asset | None = None
    quote_asset: Asset | None = None

    def holds(self, listing: Listing) -> bool:
        """Whether `listing` is on either side of this market."""
        if self.base_asset is not None and self.quote_asset is not None:
            pair = {listing.base_asset_id, listing.quote_asset_id}
            return pair == {self.base_asset.pk, self.quote_asset.pk}
        return {listing.base_asset.symbol, listing.quote_asset.symbol} == {self.base, self.quote}


def _query(request: HttpRequest, **changes: str | None) -> str:
    """The page's query string with `changes` (None removes a key), for links that keep the
    filters, the chosen offer and the chart's range."""
    query = request.GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None:
            query[key] = value
    return query.urlencode()


def _price_chart(market: _Market, range_key: str) -> dict[str, Any]:
    now = timezone.now()
    _interval, span = CHART_RANGES[range_key]
    candles = price_history(pair=market.oracle_pair, range_key=range_key, now=now)
    chart = price_chart(
        candles,
        start=now - span,
        end=now,
        pair=f"{market.base}/{market.quote}",
        places=market.quote_places,
    )
    return {"chart": chart, "range": range_key, "ranges": list(CHART_RANGES)}


def _selected(request: HttpRequest, market: _Market, sides: list[list[BookEntry]]):
    """The offer the take panel shows: the one asked for (`?take=ID`) when it is takeable and
    in this market, else the best ask, else the best bid; someone else's before the viewer's
    own (which they cannot take)."""
    user = _user(request)
    wanted = request.GET.get("take", "")
    if wanted.isdigit():
        listing = selectors.listing_get_for(listing_id=int(wanted), viewer=user)
        if listing is not None and listing.is_takeable() and market.holds(listing):
            return listing
    entries = [entry for side in sides for entry in side]
    best = next((e for e in entries if user is None or e.listing.maker_id != user.pk), None)
    best = best or (entries[0] if entries else None)
    return best.listing if best is not None else None


def _side(**kwargs: Any) -> BookSide:
    """``selectors.market_side``, cached until a listing, maker, asset or price changes
    (``marketplace.cache``): the same for every viewer, as the book shows no hidden listing."""
    return cached_read(
        "market_side", sorted(kwargs.items()), lambda: selectors.market_side(**kwargs)
    )


# What a market page's URL may ask for: a URL with anything else is not cached (the page
# repeats its full path in the language form, and unknown parameters would only fill the
# cache).
_PAGE_PARAMS = frozenset(MarketFilterForm.base_fields) | {"take", "range", "part"}
# Stands for the CSRF token in a cached page: each visitor gets their own. The rendered
# token is found where base.html gives it to htmx (Django masks it anew on every call).
_CSRF_SLOT = b"\x00csrf-token\x00"
_CSRF_RENDERED = re.compile(rb'"X-CSRFToken": "([A-Za-z0-9]{64})"')


class _NotCached(Exception):
    def __init__(self, response: HttpResponse) -> None:
        self.response = response


def _cached_for_anonymous(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A market page as sent, for an anonymous visitor with no message waiting, from the read
    cache (``marketplace.cache``: until a listing, maker, asset or price changes), per URL and
    language, with the visitor's own CSRF token put back in. A hit sends no SQL. Signed-in
    visitors see their own menu, wallets and listings, so their pages are not cached."""

    @functools.wraps(view)
    def cached_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if (
            request.user.is_authenticated
            or len(messages.get_messages(request))
            or not _PAGE_PARAMS.issuperset(request.GET)
        ):
            return view(request, *args, **kwargs)
        rendered: list[HttpResponse] = []

        def page() -> bytes:
            response = view(request, *args, **kwargs)
            token = _CSRF_RENDERED.search(response.content)
            if response.status_code != 200 or token is None:
                raise _NotCached(response)
            rendered.append(response)
            return response.content.replace(token[1], _CSRF_SLOT)

        try:
            body = cached_read("market_page", (request.get_full_path(), get_language()), page)
        except _NotCached as uncached:
            return uncached.response
        if rendered:  # this request rendered it: sent as rendered
            return rendered[0]
        return HttpResponse(body.replace(_CSRF_SLOT, get_token(request).encode()))

    return cached_view


def _market_page(request: HttpRequest, market: _Market) -> HttpResponse:
    """Both sides of a market with their depth, the price chart, and the take form."""
    range_key = request.GET.get("range", "")
    range_key = range_key if range_key in CHART_RANGES else DEFAULT_CHART_RANGE
    context: dict[str, Any] = {"market": market, **_price_chart(market, range_key)}
    context["range_query"] = {key: _query(request, range=key, part=None) for key in CHART_RANGES}
    if request.GET.get("part") == "chart":  # the chart alone, for htmx's range buttons
        return render(request, "marketplace/_price_chart.html", context)
    form = MarketFilterForm(request.GET or None, base=market.base, quote=market.quote)
    filters = form.search_filters() if form.is_valid() else {"ordering": "price"}
    min_amount = filters.pop("min_amount", None)
    # The depth chart reads the whole book, best prices first, whatever the tables' filters.
    depth_asks = _side(side=ASK, where=market.asks_where, limit=DEPTH_ROWS)
    depth_bids = _side(side=BID, where=market.bids_where, limit=DEPTH_ROWS)
    filtered = (
        min_amount is not None
        or filters["ordering"] != "price"
        or any(filters.get(key) for key in ("price_min", "price_max", "maker_kyc", "text"))
    )
    if filtered:
        asks = _side(
            side=ASK, where=market.asks_where, limit=BOOK_ROWS, min_amount=min_amount, **filters
        )
        bids = _side(side=BID, where=market.bids_where, limit=BOOK_ROWS, **filters)
    else:
        asks = BookSide(depth_asks.entries[:BOOK_ROWS], depth_asks.count)
        bids = BookSide(depth_bids.entries[:BOOK_ROWS], depth_bids.count)
    oracle = price_get(market.oracle_pair)
    mid = oracle.price if oracle is not None and oracle.tradeable else None
    selected = _selected(request, market, [asks.entries, bids.entries])
    user = _user(request)
    context.update(
        {
            "pair": market.title,
            "oracle": oracle,
            "form": form,
            "filtered": filtered,
            "asks": asks,
            "bids": bids,
            "book_rows": BOOK_ROWS,
            "depth": depth_chart(
                asks=selectors.market_depth(depth_asks.entries),
                bids=selectors.market_depth(depth_bids.entries),
                mid=mid,
                base_places=market.base_places,
                quote_places=market.quote_places,
                base=market.base,
                quote=market.quote,
            ),
            "selected": selected,
            "take_query": {
                entry.listing.pk: _query(request, take=str(entry.listing.pk), part=None)
                for entry in asks.entries + bids.entries
            },
        }
    )
    if selected is not None:
        context.update(_take_context(selected, user))
    return render(request, "marketplace/book.html", context)


def _take_context(listing: Listing, user: User | None) -> dict[str, Any]:
    """What the take form (``swaps/_take.html``) needs, on a listing's page and on a market
    page alike."""
    return {
        "listing": listing,
        "row": _rows([listing])[0],
        "is_maker": user is not None and user.pk == listing.maker_id,
        # the taker's own wallets: where the bought coins may be received
        "take_wallets": list(wallet_list(user=user)) if user is not None else [],
    }


@require_GET
@_cached_for_anonymous
def book(request: HttpRequest, pair: str) -> HttpResponse:
    """Every listing of two symbols, on any networks (each row names its networks), and the
    reverse market's as the other side."""
    pair = pair.upper()
    if not PAIR_RE.match(pair):
        raise Http404
    base, _sep, quote = pair.partition("-")
    market = _Market(
        title=f"{base} / {quote}",
        base=base,
        quote=quote,
        oracle_pair=pair,
        asks_where={"pair": pair},
        bids_where={"pair": f"{quote}-{base}"},
        reverse_url=reverse("market-book", args=[f"{quote}-{base}"]),
    )
    return _market_page(request, market)


@require_GET
@_cached_for_anonymous
def market(request: HttpRequest, base: str, quote: str) -> HttpResponse:
    """One market: the base asset on its network against the quote asset on its network;
    listings of the reverse market are its other side."""
    assets = selectors.market_assets(base, quote)
    if assets is None:
        raise Http404
    base_asset, quote_asset = assets
    found = _Market(
        title=f"{base_asset.label} / {quote_asset.label}",
        base=base_asset.symbol,
        quote=quote_asset.symbol,
        oracle_pair=price_pair(base_asset.priced_as, quote_asset.priced_as),
        asks_where={"base_asset_id": base_asset.pk, "quote_asset_id": quote_asset.pk},
        bids_where={"base_asset_id": quote_asset.pk, "quote_asset_id": base_asset.pk},
        reverse_url=reverse("market", args=[quote_asset.label, base_asset.label]),
        base_places=base_asset.decimals,
        quote_places=quote_asset.decimals,
        base_asset=base_asset,
        quote_asset=quote_asset,
    )
    return _market_page(request, found)


@require_GET
def maker_profile(request: HttpRequest, user_id: int) -> HttpResponse:
    """A maker's public page: their record (``accounts.selectors.public_reputation``) and
    their listings in the offer book. Nothing private: no e-mail, wallet or document."""
    maker = selectors.maker_get(user_id=user_id)
    if maker is None:
        raise Http404
    listings = selectors.listing_list_public_for_maker(maker=maker)
    context = {
        "maker": maker,
        "record": public_reputation(maker),
        "rows": _rows(listings),
        "is_self": request.user.is_authenticated and request.user.pk == maker.pk,
        "sections": public_sections(maker),  # e.g. shop reviews (accounts.profile_sections)
    }
    return render(request, "marketplace/maker.html", context)


@require_GET
def detail(request: HttpRequest, listing_id: int) -> HttpResponse:
    user = _user(request)
    listing = selectors.listing_get_for(listing_id=listing_id, viewer=user)
    if listing is None:
        raise Http404
    context = {
        **_take_context(listing, user),
        "maker_record": public_reputation(listing.maker),
        "oracle": price_get(listing.price_pair) if listing.is_market_relative else None,
    }
    return render(request, "marketplace/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    assert user is not None
    form = ListingForm(request.POST or None, maker=user)
    if request.method == "POST" and form.is_valid():
        try:
            listing = services.listing_create(
                maker=user, draft=form.cleaned_data.get("draft", False), **form.service_values()
            )
        except ApiValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Your listing was saved."))
            return redirect("listing-detail", listing_id=listing.pk)
    return render(request, "marketplace/form.html", {"form": form, "listing": None})


def _own(request: HttpRequest, listing_id: int) -> tuple[Listing, User]:
    user = _user(request)
    listing = selectors.listing_get(listing_id=listing_id)
    if user is None or listing is None or listing.maker_id != user.pk:
        # Someone else's listing: as if it did not exist, like a hidden one.
        raise Http404
    return listing, user


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, listing_id: int) -> HttpResponse:
    listing, user = _own(request, listing_id)
    form = ListingForm(
        request.POST or None,
        maker=user,
        listing=listing,
        initial=ListingForm.initial_for(listing),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.listing_update(
                listing_id=listing.pk, maker=user, changes=form.service_values()
            )
        except ApiValidationError as exc:
            form.add_service_errors(exc)
        except ListingError as exc:
            form.add_error(None, str(exc.detail))
        else:
            messages.success(request, _("Your listing was updated."))
            return redirect("listing-detail", listing_id=listing.pk)
    return render(request, "marketplace/form.html", {"form": form, "listing": listing})


@login_required
@require_POST
def change_state(request: HttpRequest, listing_id: int) -> HttpResponse:
    listing, user = _own(request, listing_id)
    state = request.POST.get("state", "")
    try:
        services.listing_update(listing_id=listing.pk, maker=user, changes={}, state=state)
    except ListingError as exc:
        messages.error(request, str(exc.detail))
    except ApiValidationError:
        messages.error(request, _("That is not a state you can choose."))
    else:
        messages.success(
            request,
            _("Your listing is now %(state)s.") % {"state": Listing.State(state).label.lower()},
        )
    return redirect("listing-detail", listing_id=listing.pk)


@login_required
@require_POST
def delete(request: HttpRequest, listing_id: int) -> HttpResponse:
    listing, user = _own(request, listing_id)
    services.listing_delete(listing_id=listing.pk, maker=user)
    messages.success(request, _("Your listing was deleted."))
    return redirect("listings-mine")


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    assert user is not None
    paginator = Paginator(selectors.listing_list_for_maker(maker=user), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    context = {"page": page, "rows": _rows(list(page.object_list))}
    return render(request, "marketplace/mine.html", context)
