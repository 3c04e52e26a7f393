"""Marketplace pages: pairs, the offer book of a pair, a listing, create/edit, my listings."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import ValidationError as ApiValidationError

from accounts.models import User
from accounts.selectors import public_reputation, wallet_list
from core.decimals import format_plain
from marketplace import selectors, services
from marketplace.errors import ListingError
from marketplace.forms import BookFilterForm, ListingForm
from marketplace.models import Listing
from oracle.selectors import price_get, price_pair

PAIR_RE = re.compile(r"^[A-Z0-9.]{1,16}-[A-Z0-9.]{1,16}$")
PAGE_SIZE = 20


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


def _book(request: HttpRequest, *, title: str, oracle_pair: str | None, **where) -> HttpResponse:
    form = BookFilterForm(request.GET or None)
    filters = form.search_filters() if form.is_valid() else {"ordering": "newest"}
    results: Any = selectors.listing_search(**where, **filters)
    paginator = Paginator(results, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "pair": title,
        "oracle": price_get(oracle_pair) if oracle_pair else None,
        "form": form,
        "page": page,
        "rows": _rows(list(page.object_list), oracle=results.oracle),
        "query": query.urlencode(),
    }
    return render(request, "marketplace/book.html", context)


@require_GET
def book(request: HttpRequest, pair: str) -> HttpResponse:
    """Every listing of two symbols, on any networks (each row names its networks)."""
    pair = pair.upper()
    if not PAIR_RE.match(pair):
        raise Http404
    return _book(request, title=pair, oracle_pair=pair, pair=pair)


@require_GET
def market(request: HttpRequest, base: str, quote: str) -> HttpResponse:
    """One market: the base asset on its network against the quote asset on its network."""
    assets = selectors.market_assets(base, quote)
    if assets is None:
        raise Http404
    base_asset, quote_asset = assets
    return _book(
        request,
        title=f"{base_asset.label} / {quote_asset.label}",
        oracle_pair=price_pair(base_asset.priced_as, quote_asset.priced_as),
        base_asset_id=base_asset.pk,
        quote_asset_id=quote_asset.pk,
    )


@require_GET
def detail(request: HttpRequest, listing_id: int) -> HttpResponse:
    user = _user(request)
    listing = selectors.listing_get_for(listing_id=listing_id, viewer=user)
    if listing is None:
        raise Http404
    is_maker = user is not None and user.pk == listing.maker_id
    context = {
        "row": _rows([listing])[0],
        "listing": listing,
        "is_maker": is_maker,
        "maker_record": public_reputation(listing.maker),
        "oracle": price_get(listing.price_pair) if listing.is_market_relative else None,
        # the taker's own wallets: where the bought coins may be received
        "take_wallets": list(wallet_list(user=user)) if user is not None else [],
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
