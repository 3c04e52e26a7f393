"""Listings API: the offer book (list with filters), create, read, update, delete.

Visibility: anyone reads a listing that is neither hidden nor deleted; its maker also reads
it while hidden. Changing one: 404 when the caller cannot see it, 403 when they can see it
but are not its maker (``not_listing_maker``).
"""

from __future__ import annotations

import codecs
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.api.cached import cached_response
from core.api.pagination import PageNumberPagination
from core.api.refusals import refusal_response
from core.api.schema import THROTTLED, UNAUTHENTICATED, error_response
from core.versioned import Reads
from marketplace import errors, selectors, services
from marketplace.api.serializers import (
    ListingCreateInput,
    ListingFilterInput,
    ListingOutput,
    ListingUpdateInput,
)
from marketplace.cache import cached_read
from marketplace.models import Listing


class DecimalJSONParser(JSONParser):
    """JSON with numbers read as exact Decimals: ``1.1`` never passes through a float."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)

        def refuse(name: str):
            raise ValueError(f"{name} is not a number")

        try:
            reader = codecs.getreader(encoding)(stream)
            return json.load(reader, parse_float=Decimal, parse_constant=refuse)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc


class ReadOrSignedIn(BasePermission):
    """Anyone reads; only signed-in users write."""

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or bool(
            request.user and request.user.is_authenticated
        )


# A raw schema: a serializer cannot declare a field called "fields".
FIELD_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "fields": {
            "type": "object",
            "description": "Per field: a list of {message, code}.",
            "additionalProperties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
                },
            },
        },
    },
    "required": ["detail", "code"],
}


def _field_errors(*codes: tuple[str, str, str]) -> OpenApiResponse:
    return OpenApiResponse(
        FIELD_ERROR_SCHEMA,
        description="Bad input: `fields` names each field with its `message` and `code`.",
        examples=[
            OpenApiExample(
                code,
                value={
                    "detail": "Invalid input.",
                    "code": code,
                    "fields": {field: [{"message": message, "code": code}]},
                },
                response_only=True,
            )
            for field, code, message in codes
        ],
    )


INPUT_ERRORS = _field_errors(
    ("amount", "invalid_decimal", 'Enter a decimal number, e.g. "1.25".'),
    ("amount", "amount_not_positive", "Must be more than zero."),
    ("amount", "too_many_decimals", "At most 6 decimal places for this asset."),
    ("amount", "amount_too_large", "This number is too large."),
    ("amount", "amount_below_reserved", "Swaps in progress hold 2; the amount must be more."),
    ("min_trade", "min_above_max", "The minimum per trade is above the maximum."),
    ("max_trade", "max_above_amount", "The maximum per trade is above the amount."),
    ("base_asset", "unknown_asset", "Unknown or disabled asset."),
    ("quote_asset", "same_asset", "Choose a different asset to sell for."),
    ("price", "price_required", "Give a fixed price or a margin over the market."),
    ("price", "price_conflict", "Give either a fixed price or a margin, not both."),
    ("price_floor", "bound_without_margin", "A floor or ceiling needs a market margin."),
    ("price_floor", "floor_above_ceiling", "The floor is above the ceiling."),
    (
        "price_margin_pct",
        "margin_out_of_range",
        "The margin must be between -99.9999 and 1000 percent.",
    ),
    (
        "price_margin_pct",
        "pair_not_tradeable",
        "The market price of this pair is unavailable; give a fixed price.",
    ),
    ("payout_address", "address_not_linked", "Use an address linked to your account."),
    ("terms", "terms_too_long", "At most 2000 characters."),
    ("expires_at", "expiry_in_past", "The expiry must be in the future."),
    ("base_asset", "immutable_field", "This field cannot be changed."),
    ("state", "invalid_choice", '"sold_out" is not a valid choice.'),
)
NOT_FOUND = error_response("No such listing (or hidden, or deleted).", ("not_found", "Not found."))
NOT_MAKER = refusal_response("Not the maker.", errors.NOT_LISTING_MAKER)
CONFLICT = refusal_response("The listing's state forbids it.", *errors.CHANGE)

LISTING_EXAMPLE = {
    "id": 42,
    "pair": "ETH-TEST",
    "base_asset": 1,
    "quote_asset": 4,
    "amount": "10.000000000000000000",
    "remaining": "7.500000000000000000",
    "min_trade": "0.100000000000000000",
    "max_trade": "5.000000000000000000",
    "price": None,
    "price_margin_pct": "1.5000",
    "price_floor": "1900.000000",
    "price_ceiling": None,
    "current_price": "2030.000000",
    "available": True,
    "payout_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "refund_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "terms": "Quick trades, usually online in the evening.",
    "expires_at": "2026-12-31T00:00:00Z",
    "state": "active",
    "maker": {"id": 7, "name": "alice", "kyc_level": "basic", "completed_swaps": 12},
    "hidden_reason": None,
    "created_at": "2026-11-30T12:00:00Z",
    "updated_at": "2026-11-30T12:30:00Z",
}
CREATE_EXAMPLE = {
    "base_asset": 1,
    "quote_asset": 4,
    "amount": "10",
    "min_trade": "0.1",
    "max_trade": "5",
    "price": "2000.50",
    "payout_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "refund_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "terms": "Quick trades.",
}
MARKET_EXAMPLE = {
    **{k: v for k, v in CREATE_EXAMPLE.items() if k != "price"},
    "price_margin_pct": "1.5",
    "price_floor": "1900",
}


def _viewer(request: Request) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _signed_in(request: Request) -> User:
    user = _viewer(request)
    if user is None:
        raise exceptions.NotAuthenticated()
    return user


def _payload(listings: list[Listing], request: Request, *, many: bool, oracle=None) -> Any:
    prices = selectors.listing_prices(listings, oracle=oracle)
    context = {"prices": prices, "viewer": _viewer(request)}
    return ListingOutput(listings if many else listings[0], many=many, context=context).data


# The offer book's query parameters: a URL with others is answered but not cached.
_BOOK_PARAMS = frozenset(ListingFilterInput().fields) | {"page", "page_size"}


class ListingListView(APIView):
    """The offer book and listing creation."""

    permission_classes = [ReadOrSignedIn]
    parser_classes = [DecimalJSONParser]
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="listings_list",
        tags=["listings"],
        summary="The offer book: visible listings, filtered, ordered and paginated",
        description=(
            "Active listings that are not hidden, deleted or past their expiry. "
            "`ordering=price` sorts by the current price: fixed prices as stored, "
            "market-relative ones at the oracle price now (margin, floor and ceiling "
            "applied); listings whose market price is unavailable come last and never match "
            "`price_min`/`price_max`. `mine=true` (signed in) lists all of your own "
            "listings in any state instead, ignoring the other filters."
        ),
        parameters=[
            ListingFilterInput,
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter("page_size", int, description="Listings per page (at most 100)."),
        ],
        responses={
            200: ListingOutput(many=True),
            400: _field_errors(
                ("pair", "invalid", "Give a pair as BASE-QUOTE, e.g. ETH-TEST."),
                ("price_min", "invalid_decimal", 'Enter a decimal number, e.g. "1.25".'),
                ("ordering", "invalid_choice", '"cheapest" is not a valid choice.'),
            ),
            401: UNAUTHENTICATED,
            429: THROTTLED,
        },
        examples=[
            OpenApiExample(
                "page",
                value={"count": 1, "next": None, "previous": None, "results": [LISTING_EXAMPLE]},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> HttpResponse:
        if "mine" in request.query_params:  # your own listings, hidden ones included
            filters = self._filters(request)
            if filters["mine"]:
                return self._page(
                    request, selectors.listing_list_for_maker(maker=_signed_in(request))
                )
        which = self.read_cache(request)
        if which is None:
            return Response(self._book(request))
        # The offer book shows no hidden listing, so its page is the same for every viewer:
        # cached by URL until a listing, maker, asset or price changes (marketplace.cache),
        # as the JSON sent. A URL is validated only when it is not in the cache, and one that
        # is not valid is never stored.
        return cached_response(*which, request, self, lambda: self._book(request))

    def read_cache(self, request: Request) -> tuple[Reads, str] | None:
        """The read that answers a GET of the book (core.api.cached): none for a URL with
        other parameters, which would only fill the cache."""
        return (cached_read, "listings") if _BOOK_PARAMS.issuperset(request.query_params) else None

    def _filters(self, request: Request) -> dict[str, Any]:
        query = ListingFilterInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        return dict(query.validated_data)

    def _book(self, request: Request) -> Any:
        filters = self._filters(request)
        del filters["mine"]
        filters["text"] = filters.pop("q", None)
        filters["base_asset_id"] = filters.pop("base_asset", None)
        filters["quote_asset_id"] = filters.pop("quote_asset", None)
        return self._page(request, selectors.listing_search(**filters)).data

    def _page(self, request: Request, listings: Any) -> Response:
        paginator = self.pagination_class()
        page = list(paginator.paginate_queryset(listings, request, view=self) or [])
        oracle = getattr(listings, "oracle", None)  # prices the search already read
        return paginator.get_paginated_response(_payload(page, request, many=True, oracle=oracle))

    @extend_schema(
        operation_id="listings_create",
        tags=["listings"],
        summary="Publish a listing (or save a draft)",
        description=(
            "Give either `price` (fixed, quote per base) or `price_margin_pct` (over the "
            "oracle price, with optional `price_floor`/`price_ceiling`). Amounts may have at "
            "most the base asset's decimals, prices the quote asset's. The payout and refund "
            "addresses must be wallets linked to your account."
        ),
        request=ListingCreateInput,
        responses={
            201: ListingOutput,
            400: INPUT_ERRORS,
            401: UNAUTHENTICATED,
            429: THROTTLED,
        },
        examples=[
            OpenApiExample("fixed price", value=CREATE_EXAMPLE, request_only=True),
            OpenApiExample("market-relative", value=MARKET_EXAMPLE, request_only=True),
            OpenApiExample(
                "created", value=LISTING_EXAMPLE, response_only=True, status_codes=[201]
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        data = ListingCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        listing = services.listing_create(
            maker=_signed_in(request),
            base_asset_id=values.pop("base_asset"),
            quote_asset_id=values.pop("quote_asset"),
            draft=values.pop("state") == Listing.State.DRAFT,
            **values,
        )
        created = selectors.listing_get(listing_id=listing.pk)
        assert created is not None
        return Response(_payload([created], request, many=False), status=status.HTTP_201_CREATED)


class ListingDetailView(APIView):
    """One listing: read it; its maker updates or deletes it."""

    permission_classes = [ReadOrSignedIn]
    parser_classes = [DecimalJSONParser]

    def _visible(self, request: Request, pk: int) -> Listing:
        listing = selectors.listing_get_for(listing_id=pk, viewer=_viewer(request))
        if listing is None:
            raise exceptions.NotFound()
        return listing

    def _own(self, request: Request, pk: int) -> tuple[Listing, User]:
        listing = self._visible(request, pk)
        user = _signed_in(request)
        if listing.maker_id != user.pk:
            raise errors.refuse(errors.NOT_LISTING_MAKER)
        return listing, user

    @extend_schema(
        operation_id="listings_get",
        tags=["listings"],
        responses={200: ListingOutput, 404: NOT_FOUND},
        examples=[OpenApiExample("listing", value=LISTING_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_payload([self._visible(request, pk)], request, many=False))

    @extend_schema(
        operation_id="listings_update",
        tags=["listings"],
        summary="Change a listing (maker only)",
        description=(
            "Send only the fields to change. Giving `price` turns a market-relative listing "
            "into a fixed-price one (and `price_margin_pct` the reverse). `state` may be "
            "`active` (publish a draft, resume), `paused` or `cancelled` (final). The amount "
            "must stay above what running swaps hold; `remaining` moves with it."
        ),
        request=ListingUpdateInput,
        responses={
            200: ListingOutput,
            400: INPUT_ERRORS,
            401: UNAUTHENTICATED,
            403: NOT_MAKER,
            404: NOT_FOUND,
            409: CONFLICT,
        },
        examples=[
            OpenApiExample("pause", value={"state": "paused"}, request_only=True),
            OpenApiExample("reprice", value={"price": "2100", "max_trade": "2"}, request_only=True),
        ],
    )
    def patch(self, request: Request, pk: int) -> Response:
        listing, user = self._own(request, pk)
        data = ListingUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        state = changes.pop("state", None)
        services.listing_update(listing_id=listing.pk, maker=user, changes=changes, state=state)
        updated = selectors.listing_get(listing_id=listing.pk)
        assert updated is not None
        return Response(_payload([updated], request, many=False))

    @extend_schema(
        operation_id="listings_delete",
        tags=["listings"],
        summary="Delete a listing (maker only; soft: swaps in progress go on)",
        responses={204: None, 401: UNAUTHENTICATED, 403: NOT_MAKER, 404: NOT_FOUND},
    )
    def delete(self, request: Request, pk: int) -> Response:
        listing, user = self._own(request, pk)
        services.listing_delete(listing_id=listing.pk, maker=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
