"""JWT authentication for API clients, answering in the project's error shape."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken


class JwtAuthentication(JWTAuthentication):
    """simplejwt's bearer authentication, with a flat ``{"detail", "code"}`` error.

    simplejwt raises errors whose detail is a dict with a list of messages; the
    project's clients switch on one stable ``code`` instead.
    """

    def get_user(self, validated_token):
        """The token's user, only while the token carries the user's current version
        (bumped on logout and deletion, so those end every access token at once)."""
        user = super().get_user(validated_token)
        if validated_token.get("ver", 0) != getattr(user, "token_version", 0):
            raise InvalidToken("token version ended")
        return user

    def authenticate(self, request: Request):  # type: ignore[override]
        try:
            return super().authenticate(request)
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(
                "The access token is invalid or has expired.", code="token_not_valid"
            ) from exc
        except exceptions.AuthenticationFailed as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            if str(detail.get("code", "")) == "bad_authorization_header":
                raise exceptions.AuthenticationFailed(
                    "The Authorization header must be `Bearer <access token>`.",
                    code="token_invalid",
                ) from exc
            raise exceptions.AuthenticationFailed(
                "This account cannot sign in.", code="account_inactive"
            ) from exc
