"""Swaps API: create, list, read, cancel, dispute; notifications. One view per operation."""

from __future__ import annotations

from typing import cast

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from core.api.errors import ApiError
from core.api.schema import UNAUTHENTICATED, error_response
from core.api.throttling import ScopedThrottle, UserThrottle
from core.decimals import parse_decimal
from swaps import selectors, services
from swaps.api.serializers import (
    DisputeInput,
    NotificationOutput,
    SwapCreateInput,
    SwapDetailOutput,
    SwapOutput,
)
from swaps.models import Swap

NOT_FOUND = error_response("Not yours or does not exist.", ("not_found", "Not found."))
CREATE_REFUSALS = error_response(
    "The swap was refused.",
    ("invalid_hashlock", "hashlock must be 0x and 64 hex digits (sha256 of the secret)."),
    ("hashlock_reused", "This hashlock was used before; draw a new secret."),
    ("address_not_linked", "taker_address must be a wallet linked to your account."),
    ("invalid_amount", "amount must be a decimal number in a string."),
    ("too_many_decimals", "More decimals than the asset has."),
    ("amount_below_minimum", "Below the listing's minimum per trade."),
    ("amount_above_maximum", "Above the listing's maximum per trade."),
    ("insufficient_remaining", "The listing has less left than that."),
    ("own_listing", "You cannot take your own listing."),
    ("listing_unavailable", "The listing cannot be taken now."),
    ("pair_halted", "Trading in this pair is halted while its price is unreliable."),
    ("price_unavailable", "No reliable price for this listing now."),
    ("kyc_limit_exceeded", "This swap is above your verification level's limit."),
    ("maker_kyc_limit_exceeded", "This swap is above the seller's verification level's limit."),
    ("too_many_open_swaps", "You have too many unfinished swaps."),
    ("chain_unavailable", "A chain of this swap cannot be reached; try again shortly."),
)


SWAP_WRITE = "swap_write"  # one rate (API_THROTTLE_SWAP_WRITE) for every swap write


class SwapListCreateView(ListAPIView):
    serializer_class = SwapOutput

    def get_queryset(self):
        state = self.request.query_params.get("state")
        return selectors.swap_list(user=self.request.user, state=state or None)

    def get_throttles(self):
        if self.request.method == "POST":
            self.throttle_scope = SWAP_WRITE
            return [UserThrottle(), ScopedThrottle()]
        return super().get_throttles()

    @extend_schema(
        operation_id="swaps_list",
        summary="Your swaps",
        parameters=[OpenApiParameter("state", enum=Swap.State.values, required=False)],
        responses={200: SwapOutput(many=True), 401: UNAUTHENTICATED},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="swaps_create",
        summary="Take a listing: create a swap with fixed terms",
        description=(
            "The taker's client draws a random 32-byte secret, keeps it, and sends only "
            "`hashlock = sha256(secret)`. The response's `next_action` is the first "
            "transaction to sign (an ERC-20 `approve` when needed, else the lock)."
        ),
        request=SwapCreateInput,
        examples=[
            OpenApiExample(
                "Take 1.5 ETH",
                value={
                    "listing": 42,
                    "amount": "1.5",
                    "hashlock": "0x" + "ab" * 32,
                    "taker_address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                },
                request_only=True,
            )
        ],
        responses={
            201: SwapDetailOutput,
            400: CREATE_REFUSALS,
            401: UNAUTHENTICATED,
            403: CREATE_REFUSALS,
            404: error_response("No such listing.", ("listing_not_found", "No such listing.")),
            409: CREATE_REFUSALS,
            429: CREATE_REFUSALS,
        },
    )
    def post(self, request: Request) -> Response:
        data = SwapCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        amount = parse_decimal(data.validated_data["amount"])
        if amount is None or amount <= 0:
            raise ApiError(
                "amount must be a positive decimal number in a string.", "invalid_amount"
            )
        swap = services.swap_create(
            taker=_user(request),
            listing_id=data.validated_data["listing"],
            amount=amount,
            hashlock=data.validated_data["hashlock"],
            taker_address=data.validated_data["taker_address"],
        )
        return Response(
            SwapDetailOutput(_own_swap(request, swap.pk), context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


def _user(request: Request) -> User:
    return cast(User, request.user)  # every view here requires authentication


def _own_swap(request: Request, swap_id) -> Swap:
    swap = selectors.swap_get(swap_id=swap_id, user=_user(request))
    if swap is None:
        raise ApiError("Not found.", "not_found", status.HTTP_404_NOT_FOUND)
    return swap


class SwapDetailView(APIView):
    @extend_schema(
        operation_id="swaps_retrieve",
        summary="A swap of yours, its history and your next action",
        responses={200: SwapDetailOutput, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, swap_id) -> Response:
        swap = _own_swap(request, swap_id)
        return Response(SwapDetailOutput(swap, context={"request": request}).data)


class SwapCancelView(APIView):
    throttle_classes = [UserThrottle, ScopedThrottle]
    throttle_scope = SWAP_WRITE

    @extend_schema(
        operation_id="swaps_cancel",
        summary="Cancel a swap before any lock (the taker only)",
        request=None,
        responses={
            200: SwapDetailOutput,
            401: UNAUTHENTICATED,
            403: error_response(
                "Not the taker.", ("only_taker_can_cancel", "Only the buyer can cancel a swap.")
            ),
            404: NOT_FOUND,
            409: error_response(
                "Too late to cancel.",
                ("not_cancellable", "Only a swap nobody has locked for can be cancelled."),
                ("lock_exists", "Your lock is already on chain."),
            ),
            503: error_response(
                "Chain unreachable.", ("chain_unavailable", "The chain cannot be reached.")
            ),
        },
    )
    def post(self, request: Request, swap_id) -> Response:
        _own_swap(request, swap_id)
        services.swap_cancel(swap_id=swap_id, user=_user(request))
        swap = _own_swap(request, swap_id)
        return Response(SwapDetailOutput(swap, context={"request": request}).data)


class SwapDisputeView(APIView):
    throttle_classes = [UserThrottle, ScopedThrottle]
    throttle_scope = SWAP_WRITE

    @extend_schema(
        operation_id="swaps_dispute",
        summary="Open a dispute on your swap, or add a message to it",
        request=DisputeInput,
        responses={
            200: SwapDetailOutput,
            400: error_response("Bad message.", ("message_required", "Say what went wrong.")),
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: error_response("Resolved.", ("dispute_resolved", "This dispute is resolved.")),
        },
    )
    def post(self, request: Request, swap_id) -> Response:
        swap = _own_swap(request, swap_id)
        data = DisputeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.dispute_open(
            swap=swap, user=_user(request), message=data.validated_data["message"]
        )
        swap = _own_swap(request, swap_id)
        return Response(SwapDetailOutput(swap, context={"request": request}).data)


class NotificationListView(ListAPIView):
    serializer_class = NotificationOutput

    def get_queryset(self):
        return selectors.notification_list(user=self.request.user)

    @extend_schema(operation_id="notifications_list", summary="Your notifications, newest first")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class NotificationReadView(APIView):
    @extend_schema(
        operation_id="notifications_read",
        summary="Mark a notification read",
        request=None,
        responses={204: None, 404: NOT_FOUND},
    )
    def post(self, request: Request, notification_id: int) -> Response:
        if not services.notification_read(user=_user(request), notification_id=notification_id):
            raise ApiError("Not found.", "not_found", status.HTTP_404_NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)
