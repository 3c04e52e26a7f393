"""Internet Identity API: a nonce, sign-in with a proven principal, linking one.

The proof is the browser's Internet Identity delegation chain (agent-js's
``DelegationChain.toJSON()``) and its session key's signature of the nonce's challenge;
``accounts.services.internet_identity`` checks both.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api.serializers import TokenPairOutput, UserOutput
from accounts.api.views import SESSION_BACKEND, AuthScopedView, _me, _user_payload
from accounts.models import IiNonce
from accounts.services import internet_identity as ii
from accounts.signals import client_ip
from core.api.refusals import by_status, refusal_response
from core.api.schema import THROTTLED, UNAUTHENTICATED


def _documented(description: str, *refusals: Any) -> dict:
    """``extend_schema`` responses for `refusals`, one entry per HTTP status."""
    return {
        code: refusal_response(description, *group) for code, group in by_status(*refusals).items()
    }


# ----------------------------------------------------------------------------- shapes


class IiNonceInput(serializers.Serializer):
    purpose = serializers.ChoiceField(
        choices=IiNonce.Purpose.values,
        help_text="`sign_in`, or `link` (signed in: the nonce is bound to your account).",
    )


class IiNonceOutput(serializers.Serializer):
    nonce = serializers.CharField()
    challenge = serializers.CharField(
        help_text="Hex of the exact bytes the Internet Identity session key must sign."
    )
    expires_at = serializers.DateTimeField()


class DelegationInput(serializers.Serializer):
    pubkey = serializers.CharField(max_length=1024, help_text="Hex of the delegated DER key.")
    expiration = serializers.CharField(max_length=16, help_text="Nanoseconds since 1970, hex.")
    targets = serializers.ListField(
        child=serializers.CharField(max_length=58), required=False, max_length=1000
    )


class SignedDelegationInput(serializers.Serializer):
    delegation = DelegationInput()
    signature = serializers.CharField(max_length=131072, help_text="Hex.")


class DelegationChainInput(serializers.Serializer):
    """agent-js's ``DelegationChain.toJSON()``."""

    publicKey = serializers.CharField(  # the JSON name browsers send
        max_length=1024, help_text="Hex of the DER canister signature key of your principal."
    )
    delegations = serializers.ListField(child=SignedDelegationInput(), min_length=1, max_length=20)


class IiProofInput(serializers.Serializer):
    nonce = serializers.CharField(max_length=64)
    delegation_chain = DelegationChainInput()
    signature = serializers.CharField(
        max_length=1024, help_text="Hex of the session key's signature of the challenge."
    )


class IiSignInInput(IiProofInput):
    accept_terms = serializers.BooleanField(
        default=False, help_text="Needed when the principal has no account yet (creates one)."
    )


_CHAIN_EXAMPLE = {
    "nonce": "7d1c0f7c2f3e4a5b8c9d0e1f2a3b4c5d",
    "delegation_chain": {
        "publicKey": "303c300c060a2b0601040183b8430102032c000a0000000000000007010139…",
        "delegations": [
            {
                "delegation": {"pubkey": "3059301306072a8648ce3d0201…", "expiration": "18a2…"},
                "signature": "d9d9f7a26b6365727469666963617465…",
            }
        ],
    },
    "signature": "5c0e…",
}
PROOF_REFUSED = (*ii.NONCE_REFUSALS, *ii.PROOF_REFUSALS)


# ----------------------------------------------------------------------------- views


class IiNonceView(AuthScopedView):
    """Start an Internet Identity proof: a single-use nonce and the challenge to sign."""

    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_ii_nonce",
        tags=["auth"],
        request=IiNonceInput,
        responses={201: IiNonceOutput, 401: UNAUTHENTICATED, 429: THROTTLED},
        examples=[OpenApiExample("sign in", value={"purpose": "sign_in"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        data = IiNonceInput(data=request.data)
        data.is_valid(raise_exception=True)
        purpose = data.validated_data["purpose"]
        if purpose == IiNonce.Purpose.LINK and not request.user.is_authenticated:
            raise NotAuthenticated()
        nonce, challenge = services.ii_nonce_issue(
            purpose=purpose, user=_me(request) if purpose == IiNonce.Purpose.LINK else None
        )
        body = {"nonce": nonce.nonce, "challenge": challenge.hex(), "expires_at": nonce.expires_at}
        return Response(IiNonceOutput(body).data, status=status.HTTP_201_CREATED)


class IiVerifyView(AuthScopedView):
    """Finish an Internet Identity sign-in: JWTs for API clients and a session cookie.

    The principal is the one the delegation chain proves; a principal no account has
    proven creates an account when ``accept_terms`` is true. JSON only, so a cross-site
    form cannot sign a browser in.
    """

    permission_classes = [AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="auth_ii_verify",
        tags=["auth"],
        request=IiSignInInput,
        responses={
            200: TokenPairOutput,
            **_documented(
                "The nonce or the proof was refused.",
                *PROOF_REFUSED,
                ii.TERMS_NOT_ACCEPTED,
                ii.ACCOUNT_DISABLED,
            ),
            429: THROTTLED,
        },
        examples=[OpenApiExample("proof", value=_CHAIN_EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        data = IiSignInInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.ii_sign_in(**data.validated_data, ip=client_ip(request))
        request._request.sign_in_method = ii.METHOD  # type: ignore[attr-defined]
        login(request._request, user, backend=SESSION_BACKEND)
        return Response({**services.jwt_pair_issue(user=user), "user": _user_payload(user)})


class IcpPrincipalProofView(AuthScopedView):
    """Link the Internet Computer principal you prove with Internet Identity.

    Send a ``link`` nonce's proof (the delegation chain and the session key's signature);
    a principal typed in without proof is refused (``proof_required``).
    """

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="me_icp_principal",
        tags=["me"],
        request=IiProofInput,
        responses={
            200: UserOutput,
            **_documented(
                "The nonce or the proof was refused, or no proof was sent.",
                *PROOF_REFUSED,
                ii.PROOF_REQUIRED,
                ii.PRINCIPAL_TAKEN,
            ),
            429: THROTTLED,
        },
        examples=[OpenApiExample("proof", value=_CHAIN_EXAMPLE, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.data, dict) and "delegation_chain" not in request.data:
            raise ii.PROOF_REQUIRED.error()
        data = IiProofInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.ii_principal_link(
            user=_me(request), **data.validated_data, ip=client_ip(request)
        )
        return Response(_user_payload(user))
