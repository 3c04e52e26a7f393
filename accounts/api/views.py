"""Accounts API: SIWE sign-in, JWT refresh and logout, profile, KYC. One view per operation."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth import login, logout
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import errors, selectors, services
from accounts.api.serializers import (
    AvatarInput,
    KycInput,
    KycOutput,
    KycStatusOutput,
    LinkOutput,
    LogoutInput,
    ProfileInput,
    RefreshInput,
    RefreshOutput,
    SiweNonceInput,
    SiweNonceOutput,
    SiweSignInInput,
    SiweVerifyInput,
    TermsAcceptInput,
    TermsStatusOutput,
    TokenPairOutput,
    UserOutput,
    WalletBalancesOutput,
    WalletOutput,
)
from accounts.models import User
from core.api.errors import ApiError
from core.api.pagination import PageNumberPagination
from core.api.refusals import refusal_response
from core.api.schema import THROTTLED, UNAUTHENTICATED, error_response
from core.api.throttling import ClientThrottle, ScopedThrottle
from core.client_ip import client_ip

SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


# The project's one error shape; a second serializer of that name would collide in the schema.
_error = error_response


SIWE_REFUSALS = _error(
    "The message or signature was refused.",
    ("nonce_unknown", "This nonce was not issued here."),
    ("nonce_used", "This nonce has already been used."),
    ("nonce_mismatch", "The nonce was issued for another address or chain."),
    ("message_expired", "The message has expired; ask for a new one."),
    ("message_not_yet_valid", "The message is not valid yet."),
    ("domain_mismatch", "The message was made for another site."),
    ("uri_mismatch", "The message names another URI."),
    ("signature_invalid", "The signature was not made by this address."),
)
SIWE_BAD_INPUT = _error(
    "Malformed input.",
    ("message_malformed", "The message is not a valid EIP-4361 message."),
    ("chain_not_supported", "This chain is not supported here."),
    ("required", "Invalid input."),
)
CHAIN_DOWN = _error(
    "A contract wallet's chain cannot be reached.",
    ("chain_unavailable", "The chain cannot be reached to check a contract wallet; retry later."),
)


class AuthScopedView(APIView):
    """Sign-in endpoints: the strict ``auth`` rate on top of the general ones."""

    throttle_scope = "auth"
    throttle_classes = [ScopedThrottle, ClientThrottle]


def _me(request: Request) -> User:
    """The authenticated user (views using it require authentication)."""
    return cast(User, request.user)


def _user_payload(user: User) -> dict:
    user = User.objects.prefetch_related("wallets").get(pk=user.pk)
    return UserOutput(user).data


class SiweNonceView(AuthScopedView):
    """Start a Sign-In with Ethereum: a single-use nonce and the EIP-4361 message to sign."""

    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_siwe_nonce",
        tags=["auth"],
        request=SiweNonceInput,
        responses={
            201: SiweNonceOutput,
            400: _error(
                "Bad address or chain.",
                ("invalid_address", "This is not an Ethereum address."),
                ("chain_not_supported", "This chain is not supported here."),
            ),
            429: THROTTLED,
        },
        examples=[
            OpenApiExample(
                "request",
                value={"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "chain_id": 31337},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = SiweNonceInput(data=request.data)
        data.is_valid(raise_exception=True)
        nonce, message = services.siwe_nonce_issue(
            address=data.validated_data["address"], chain_id=data.validated_data["chain_id"]
        )
        body = {"nonce": nonce.nonce, "message": message, "expires_at": nonce.expires_at}
        return Response(SiweNonceOutput(body).data, status=status.HTTP_201_CREATED)


class SiweVerifyView(AuthScopedView):
    """Finish a SIWE sign-in: JWTs for API clients and a session cookie for browsers.

    The first sign-in of an address creates its account. Always signs in as the
    address's owner; to add an address to the signed-in account use
    ``/auth/siwe/link``. JSON only, so a cross-site form cannot sign a browser in.
    """

    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_siwe_verify",
        tags=["auth"],
        request=SiweSignInInput,
        responses={
            200: TokenPairOutput,
            400: SIWE_BAD_INPUT,
            401: SIWE_REFUSALS,
            403: _error("Account disabled.", ("account_disabled", "This account is disabled.")),
            429: THROTTLED,
            503: CHAIN_DOWN,
        },
    )
    def post(self, request: Request) -> Response:
        data = SiweSignInInput(data=request.data)
        data.is_valid(raise_exception=True)
        accept_terms = data.validated_data.pop("accept_terms")
        user = services.siwe_sign_in(**data.validated_data, ip=client_ip(request))
        if accept_terms:
            user = services.user_terms_accept(user=user, version=settings.TERMS_VERSION)
        request._request.sign_in_method = "siwe"  # type: ignore[attr-defined]
        login(request._request, user, backend=SESSION_BACKEND)
        return Response({**services.jwt_pair_issue(user=user), "user": _user_payload(user)})


class SiweLinkView(AuthScopedView):
    """Link one more address to the signed-in account (same nonce and message as sign-in)."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_siwe_link",
        tags=["auth"],
        request=SiweVerifyInput,
        responses={
            201: LinkOutput,
            400: SIWE_BAD_INPUT,
            401: SIWE_REFUSALS,
            409: _error(
                "Address taken.", ("wallet_taken", "This address is linked to another account.")
            ),
            429: THROTTLED,
            503: CHAIN_DOWN,
        },
    )
    def post(self, request: Request) -> Response:
        data = SiweVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        wallet = services.siwe_link(user=_me(request), **data.validated_data, ip=client_ip(request))
        body = {"wallet": WalletOutput(wallet).data, "user": _user_payload(_me(request))}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenRefreshView(AuthScopedView):
    """Exchange a refresh token for a new pair; the old refresh token stops working."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_token_refresh",
        tags=["auth"],
        request=RefreshInput,
        responses={
            200: RefreshOutput,
            401: _error(
                "Invalid, expired, rotated or revoked refresh token.",
                ("token_not_valid", "The refresh token is invalid, expired or revoked."),
            ),
            429: THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        data = RefreshInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(services.jwt_refresh(refresh=data.validated_data["refresh"]))


class LogoutView(APIView):
    """Sign out: end every access and refresh token of the account at once (its token
    version is bumped; API clients sign in again) and the browser session, if any."""

    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        request=LogoutInput,
        responses={
            204: None,
            401: _error(
                "Invalid refresh token.",
                ("token_not_valid", "The refresh token is invalid, expired or revoked."),
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = LogoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        refresh = data.validated_data.get("refresh")
        ended: User | None = None
        if request.auth is not None and request.user.is_authenticated:  # a bearer token
            ended = _me(request)
        if refresh:
            user_id = services.jwt_revoke(refresh=refresh)
            if ended is None and user_id is not None:
                ended = User.objects.filter(pk=user_id).first()
            if not request.user.is_authenticated:
                services.audit_record(
                    event="logout",
                    user=User.objects.filter(pk=user_id).first() if user_id else None,
                    ip=client_ip(request),
                    detail={"method": "jwt"},
                )
        if ended is not None:
            services.jwt_end_all(user=ended)
        if request.user.is_authenticated:
            # Django's logout signal writes the audit row; without a session it is a no-op.
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """The signed-in user's profile (session or JWT), its changes, and account deletion."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="me_get", tags=["me"], responses={200: UserOutput, 401: UNAUTHENTICATED}
    )
    def get(self, request: Request) -> Response:
        return Response(_user_payload(_me(request)))

    @extend_schema(
        operation_id="me_update",
        tags=["me"],
        request=ProfileInput,
        responses={
            200: UserOutput,
            400: _error(
                "Bad input.",
                ("invalid_choice", "Invalid input."),
                ("name_invalid_characters", "The name holds characters that are not allowed."),
                ("name_reserved", "This name is reserved; choose another."),
                ("name_taken", "This name is too close to another user's; choose another."),
            ),
            401: UNAUTHENTICATED,
        },
    )
    def patch(self, request: Request) -> Response:
        data = ProfileInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.profile_update(user=_me(request), **data.validated_data)
        return Response(_user_payload(user))

    @extend_schema(
        operation_id="me_delete",
        tags=["me"],
        description=(
            "Delete the account: personal data is anonymised, every session ends and "
            "every refresh token is revoked. Cannot be undone."
        ),
        responses={204: None, 401: UNAUTHENTICATED},
    )
    def delete(self, request: Request) -> Response:
        services.user_delete(user=_me(request), ip=client_ip(request))
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# One wallet; drf-spectacular wraps it in the paginated list shape.
WALLET_EXAMPLE = {
    "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "chain_id": 31337,
    "created_at": "2026-11-30T12:00:00Z",
    "balances": [
        {
            "network": "local-a",
            "chain_id": 31337,
            "asset_id": 1,
            "symbol": "ETH",
            "decimals": 18,
            "token": None,
            "amount": "10000.000000000000000000",
            "status": "ok",
        },
        {
            "network": "local-a",
            "chain_id": 31337,
            "asset_id": 2,
            "symbol": "TEST",
            "decimals": 6,
            "token": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "amount": "1000000.000000",
            "status": "ok",
        },
        {
            "network": "local-b",
            "chain_id": 31338,
            "asset_id": 3,
            "symbol": "ETH",
            "decimals": 18,
            "token": None,
            "amount": None,
            "status": "unavailable",
        },
    ],
}


class WalletListView(APIView):
    """The signed-in user's linked addresses (paginated), each with its balances.

    Balances cover every enabled asset on every enabled network, read from the chains
    and cached for ``WALLET_BALANCE_CACHE_SECONDS``; a network that does not answer gives
    its rows ``status: "unavailable"`` and ``amount: null``.
    A principal proven with Internet Identity comes last, as an entry of the same shape
    (``address`` the principal, ``chain_id`` 0, ``created_at`` when it was proven) whose
    rows are ICP and each ``ICP_TOKENS`` token on network ``icp``.
    """

    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="me_wallets",
        tags=["me"],
        responses={200: WalletBalancesOutput(many=True), 401: UNAUTHENTICATED},
        examples=[OpenApiExample("wallets", value=WALLET_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        # DRF paginates any sequence (wallets and the principal); its stubs name querysets.
        entries: Any = selectors.wallet_and_principal_list(user=_me(request))
        page = paginator.paginate_queryset(entries, request, view=self)
        wallets = list(page or [])
        context = {"balances": selectors.wallet_balance_map(wallets=wallets)}
        body = WalletBalancesOutput(wallets, many=True, context=context).data
        return paginator.get_paginated_response(body)


WALLET_ADDRESS = OpenApiParameter(
    "address", OpenApiTypes.STR, OpenApiParameter.PATH, description="A linked address, any case."
)


class WalletUnlinkView(APIView):
    """Unlink one of the signed-in user's addresses. The last way to sign in (wallet,
    Internet Identity, or a password with a confirmed e-mail) cannot be removed."""

    @extend_schema(
        operation_id="me_wallet_unlink",
        tags=["me"],
        parameters=[WALLET_ADDRESS],
        responses={
            204: None,
            401: UNAUTHENTICATED,
            404: refusal_response("Not linked to you.", errors.WALLET_NOT_FOUND),
            409: refusal_response("The last sign-in method.", errors.LAST_SIGN_IN_METHOD),
        },
    )
    def delete(self, request: Request, address: str) -> Response:
        services.wallet_unlink(user=_me(request), address=address, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WalletDefaultView(APIView):
    """Make one of the signed-in user's addresses the default (listed first, proposed first
    for new offers and swaps)."""

    @extend_schema(
        operation_id="me_wallet_default",
        tags=["me"],
        request=None,
        parameters=[WALLET_ADDRESS],
        responses={
            200: WalletOutput,
            401: UNAUTHENTICATED,
            404: refusal_response("Not linked to you.", errors.WALLET_NOT_FOUND),
        },
    )
    def post(self, request: Request, address: str) -> Response:
        wallet = services.wallet_default_set(user=_me(request), address=address)
        return Response(WalletOutput(wallet).data)


class AvatarView(APIView):
    """Upload a new avatar; it is re-encoded as PNG without metadata."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="me_avatar",
        tags=["me"],
        request={"multipart/form-data": AvatarInput},
        responses={
            200: UserOutput,
            400: _error(
                "Not an acceptable image.",
                ("invalid_image", "This file is not an image we can read."),
                ("file_too_large", "The image is too large."),
                ("image_too_large", "The image has too many pixels; send a smaller one."),
            ),
            401: UNAUTHENTICATED,
        },
    )
    def post(self, request: Request) -> Response:
        data = AvatarInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.avatar_set(user=_me(request), upload=data.validated_data["avatar"])
        return Response(_user_payload(user))


class KycView(APIView):
    """KYC: the current level, its swap limit and submissions; upload a document."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="me_kyc", tags=["me"], responses={200: KycStatusOutput, 401: UNAUTHENTICATED}
    )
    def get(self, request: Request) -> Response:
        user = _me(request)
        body = {
            "level": user.kyc_level,
            "limit_usd": selectors.kyc_limit_usd(user),
            "submissions": selectors.kyc_submission_list(user=user),
        }
        return Response(KycStatusOutput(body).data)

    @extend_schema(
        operation_id="me_kyc_submit",
        tags=["me"],
        request={"multipart/form-data": KycInput},
        responses={
            201: KycOutput,
            400: _error(
                "Bad document.",
                ("invalid_document", "Send a PDF, PNG or JPEG document."),
                ("file_too_large", "The document is too large."),
            ),
            401: UNAUTHENTICATED,
            409: _error("Already pending.", ("kyc_pending", "A document is already waiting.")),
        },
    )
    def post(self, request: Request) -> Response:
        data = KycInput(data=request.data)
        data.is_valid(raise_exception=True)
        submission = services.kyc_submit(
            user=_me(request), **data.validated_data, ip=client_ip(request)
        )
        return Response(KycOutput(submission).data, status=status.HTTP_201_CREATED)


TERMS_NOT_ACCEPTED = _error(
    "The account has not accepted the current terms of service (every other endpoint).",
    ("terms_not_accepted", "Accept the terms of service first (POST /api/v1/me/terms)."),
)


class MeTermsView(APIView):
    """The current terms of service and whether this account accepted them; accept them.

    Until an account accepts the current version (new wallet accounts, and everyone after
    the terms change), every other endpoint but ``/me``, ``/auth/*`` and this one answers
    403 ``terms_not_accepted``.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="me_terms",
        tags=["me"],
        responses={200: TermsStatusOutput, 401: UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        return Response(TermsStatusOutput(_terms_status(_me(request))).data)

    @extend_schema(
        operation_id="me_terms_accept",
        tags=["me"],
        request=TermsAcceptInput,
        responses={
            200: TermsStatusOutput,
            400: _error(
                "Another version.",
                ("terms_version_mismatch", "These are not the current terms; reload them."),
            ),
            401: UNAUTHENTICATED,
        },
    )
    def post(self, request: Request) -> Response:
        data = TermsAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["version"] != settings.TERMS_VERSION:
            raise ApiError(
                "These are not the current terms; reload them.", "terms_version_mismatch"
            )
        user = services.user_terms_accept(user=_me(request), version=settings.TERMS_VERSION)
        return Response(TermsStatusOutput(_terms_status(user)).data)


def _terms_status(user: User) -> dict:
    return {
        "version": settings.TERMS_VERSION,
        "accepted_version": user.terms_version,
        "accepted": user.terms_version == settings.TERMS_VERSION,
        "accepted_at": user.terms_accepted_at,
        "terms_url": reverse("terms"),
        "privacy_url": reverse("privacy"),
    }
