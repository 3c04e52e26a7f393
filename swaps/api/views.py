"""Swaps API: create, list, read, cancel, dispute; notifications. One view per operation."""

from __future__ import annotations

from typing import cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from chains.interface import ChainUnavailable
from core.api import idempotency
from core.api.idempotency import IDEMPOTENCY_KEY, idempotent
from core.api.refusals import by_status, refusal_response
from core.api.schema import UNAUTHENTICATED
from core.api.throttling import ClientThrottle, ScopedThrottle
from core.decimals import parse_decimal
from marketplace import errors as listing_errors
from swaps import errors, push, quotes, recovery, selectors, services
from swaps.api.serializers import (
    DisputeInput,
    MessageInput,
    MessageOutput,
    NotificationOutput,
    PushEndpointInput,
    PushSubscriptionInput,
    QuoteOutput,
    SwapCreateInput,
    SwapDetailOutput,
    SwapOutput,
    SwapQuoteInput,
    quote_data,
    swap_detail_data,
)
from swaps.models import Swap

NOT_FOUND = refusal_response("Not yours or does not exist.", errors.NOT_FOUND)


def _documented(description: str, *refusals) -> dict:
    """``extend_schema`` responses for `refusals`, one entry per HTTP status."""
    return {
        code: refusal_response(description, *group) for code, group in by_status(*refusals).items()
    }


SWAP_WRITE = "swap_write"  # one rate (API_THROTTLE_SWAP_WRITE) for every swap write


class SwapListCreateView(ListAPIView):
    serializer_class = SwapOutput

    def get_queryset(self):
        state = self.request.query_params.get("state")
        return selectors.swap_list(user=self.request.user, state=state or None)

    def get_throttles(self):
        if self.request.method == "POST":
            self.throttle_scope = SWAP_WRITE
            return [ClientThrottle(), ScopedThrottle()]
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
        parameters=[IDEMPOTENCY_KEY],
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
            401: UNAUTHENTICATED,
            **_documented(
                "The swap was refused.",
                *errors.CREATE,
                *listing_errors.RESERVE,
                errors.LISTING_NOT_FOUND,
                *idempotency.REFUSALS,
            ),
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = SwapCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        amount = parse_decimal(data.validated_data["amount"])
        if amount is None or amount <= 0:
            raise errors.refuse(errors.INVALID_AMOUNT)
        swap = services.swap_create(
            taker=_user(request),
            listing_id=data.validated_data["listing"],
            amount=amount,
            hashlock=data.validated_data["hashlock"],
            taker_address=data.validated_data["taker_address"],
        )
        return Response(_detail(request, swap.pk), status=status.HTTP_201_CREATED)


def _user(request: Request) -> User:
    return cast(User, request.user)  # every view here requires authentication


def _own_swap(request: Request, swap_id) -> Swap:
    swap = selectors.swap_get(swap_id=swap_id, user=_user(request))
    if swap is None:
        raise errors.refuse(errors.NOT_FOUND)
    return swap


def _detail(request: Request, swap_id) -> dict:
    return swap_detail_data(_own_swap(request, swap_id), user=_user(request))


class SwapQuoteView(APIView):
    @extend_schema(
        operation_id="swaps_quote",
        summary="What taking a listing would mean: terms, fees, times, balance check",
        description=(
            "The same body as creating a swap (`hashlock` is optional and ignored); nothing is "
            "reserved or written. Answers the amounts and networks each way, the price and "
            "its distance from the oracle, the network fee of each of your steps (gas x the "
            "network's fee now, in its coin and in USD), the platform fee (none), each "
            "deadline and timelock as a time, your wallet's balances of what the swap needs, "
            "and `refusals`: every refusal creating this swap would give now, each with its "
            "`code` and a sentence saying what to do (`can_take` is false when there is any)."
        ),
        request=SwapQuoteInput,
        responses={
            200: QuoteOutput,
            401: UNAUTHENTICATED,
            **_documented(
                "No quote can be made.",
                errors.INVALID_AMOUNT,
                errors.INVALID_ADDRESS,
                errors.LISTING_NOT_FOUND,
                errors.PAIR_UNPRICED,
                errors.PAIR_HALTED,
                errors.PRICE_UNAVAILABLE,
                errors.NETWORK_UNAVAILABLE,
                errors.CHAIN_UNAVAILABLE,
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = SwapQuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        amount = parse_decimal(data.validated_data["amount"])
        if amount is None or amount <= 0:
            raise errors.refuse(errors.INVALID_AMOUNT)
        quote = quotes.swap_quote(
            taker=_user(request),
            listing_id=data.validated_data["listing"],
            amount=amount,
            taker_address=data.validated_data["taker_address"],
        )
        return Response(quote_data(quote))


class SwapDetailView(APIView):
    @extend_schema(
        operation_id="swaps_retrieve",
        summary="A swap of yours, its history and your next action",
        responses={200: SwapDetailOutput, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, swap_id) -> Response:
        return Response(_detail(request, swap_id))


class SwapRecoveryView(APIView):
    @extend_schema(
        operation_id="swaps_recovery",
        summary="Your recovery kit: everything to redeem or refund this swap without us",
        description=(
            "Per lock (`legs.taker`: the buyer's payment; `legs.maker`: the seller's coins): "
            "network, chain id, a public RPC URL, the HTLC contract, the lock id, token, "
            "amount (and in base units), sender, recipient, timelock (Unix and UTC), and the "
            "exact call data of `refund`, and of `redeem` once the secret is public. The "
            "taker's client adds its secret and the redeem call data before saving the file. "
            "`python manage.py swap_recover FILE --rpc URL --key-env VAR` and `/swaps/recover/` "
            "read it."
        ),
        responses={
            200: OpenApiTypes.OBJECT,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("A chain of this swap is not known now.", errors.CHAIN_UNAVAILABLE),
        },
    )
    def get(self, request: Request, swap_id) -> Response:
        swap = _own_swap(request, swap_id)
        try:
            kit = recovery.kit(swap, role=swap.role_of(_user(request)) or "")
        except ChainUnavailable as exc:
            raise errors.refuse(errors.CHAIN_UNAVAILABLE) from exc
        return Response(kit)


class SwapMessagesView(APIView):
    def get_throttles(self):
        if self.request.method == "POST":
            self.throttle_scope = SWAP_WRITE
            return [ClientThrottle(), ScopedThrottle()]
        return super().get_throttles()

    @extend_schema(
        operation_id="swaps_messages_list",
        summary="The conversation between the swap's two parties, oldest first",
        responses={200: MessageOutput(many=True), 401: UNAUTHENTICATED, 404: NOT_FOUND},
    )
    def get(self, request: Request, swap_id) -> Response:
        swap = _own_swap(request, swap_id)
        return Response(selectors.swap_message_list(swap=swap, user=_user(request)))

    @extend_schema(
        operation_id="swaps_messages_create",
        summary="Write to the other party (they get it live and a notice)",
        request=MessageInput,
        responses={
            201: MessageOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("The message was refused.", *errors.MESSAGE),
        },
    )
    def post(self, request: Request, swap_id) -> Response:
        swap = _own_swap(request, swap_id)
        data = MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.swap_message_post(
            swap=swap, user=_user(request), body=data.validated_data["body"]
        )
        found = selectors.swap_message_get(
            swap_id=swap.pk, message_id=message.pk, user=_user(request)
        )
        return Response(found, status=status.HTTP_201_CREATED)


class SwapCancelView(APIView):
    throttle_classes = [ClientThrottle, ScopedThrottle]
    throttle_scope = SWAP_WRITE

    @extend_schema(
        operation_id="swaps_cancel",
        summary="Cancel a swap before any lock (the taker only)",
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: SwapDetailOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("The cancel was refused.", *errors.CANCEL, *idempotency.REFUSALS),
        },
    )
    @idempotent
    def post(self, request: Request, swap_id) -> Response:
        _own_swap(request, swap_id)
        services.swap_cancel(swap_id=swap_id, user=_user(request))
        return Response(_detail(request, swap_id))


class SwapDisputeView(APIView):
    throttle_classes = [ClientThrottle, ScopedThrottle]
    throttle_scope = SWAP_WRITE

    @extend_schema(
        operation_id="swaps_dispute",
        summary="Open a dispute on your swap, or add a message (and evidence files) to it",
        description=(
            'JSON `{"message"}`, or multipart with `message` and up to '
            "SWAP_EVIDENCE_MAX_FILES `evidence` files (PNG, JPEG, GIF, WebP or PDF, checked by "
            "content, at most SWAP_EVIDENCE_MAX_BYTES each), private to the parties and staff."
        ),
        request=DisputeInput,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: SwapDetailOutput,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            **_documented("The message was refused.", *errors.DISPUTE, *idempotency.REFUSALS),
        },
    )
    @idempotent
    def post(self, request: Request, swap_id) -> Response:
        swap = _own_swap(request, swap_id)
        data = DisputeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.dispute_open(
            swap=swap,
            user=_user(request),
            message=data.validated_data["message"],
            files=request.FILES.getlist("evidence"),
        )
        return Response(_detail(request, swap_id))


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
            raise errors.refuse(errors.NOT_FOUND)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PushKeyView(APIView):
    @extend_schema(
        operation_id="push_key",
        summary="This site's VAPID public key, for PushManager.subscribe",
        responses={
            200: inline_serializer(
                name="PushKey",
                fields={
                    "enabled": serializers.BooleanField(),
                    "public_key": serializers.CharField(help_text="base64url P-256 point"),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        return Response({"enabled": push.enabled(), "public_key": push.public_key()})


class PushSubscriptionView(APIView):
    @extend_schema(
        operation_id="push_subscribe",
        summary="Receive the notices that need action as Web Push in this browser",
        description="The body is the browser's `PushSubscription.toJSON()`.",
        request=PushSubscriptionInput,
        responses={201: None, 401: UNAUTHENTICATED},
    )
    def post(self, request: Request) -> Response:
        data = PushSubscriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.push_subscribe(
            user=_user(request),
            endpoint=data.validated_data["endpoint"],
            p256dh=data.validated_data["keys"]["p256dh"],
            auth=data.validated_data["keys"]["auth"],
        )
        return Response(status=status.HTTP_201_CREATED)


class PushUnsubscribeView(APIView):
    @extend_schema(
        operation_id="push_unsubscribe",
        summary="Stop pushing to this browser",
        request=PushEndpointInput,
        responses={204: None, 401: UNAUTHENTICATED},
    )
    def post(self, request: Request) -> Response:
        data = PushEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.push_unsubscribe(user=_user(request), endpoint=data.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationReadAllView(APIView):
    @extend_schema(
        operation_id="notifications_read_all",
        summary="Mark all your notifications read",
        request=None,
        responses={
            200: inline_serializer(name="ReadAll", fields={"read": serializers.IntegerField()})
        },
    )
    def post(self, request: Request) -> Response:
        return Response({"read": services.notifications_read_all(user=_user(request))})
