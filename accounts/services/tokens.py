"""JWT access and refresh tokens: issue, rotate, revoke."""

from __future__ import annotations

from django.db.models import F
from rest_framework import status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from core.api.errors import ApiError

UNAUTHORIZED = status.HTTP_401_UNAUTHORIZED


# The claim carrying User.token_version; access tokens minted from a refresh token copy it.
TOKEN_VERSION_CLAIM = "ver"


def jwt_pair_issue(*, user: User) -> dict[str, str]:
    """A new access (``ACCESS_TOKEN_LIFETIME``) and refresh token pair for ``user``.

    Both carry ``user.token_version``; bumping it (:func:`jwt_end_all`) ends them at once.
    Side effects: records the refresh token as outstanding (so it can be revoked).
    """
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def jwt_end_all(*, user: User) -> None:
    """End every access token of ``user`` now: bump the version each request checks, and
    blacklist every outstanding refresh token. Side effects: one UPDATE, blacklist rows."""
    User.objects.filter(pk=user.pk).update(token_version=F("token_version") + 1)
    user.refresh_from_db(fields=["token_version"])
    jwt_revoke_all(user=user)


_TOKEN_INVALID = ("The refresh token is invalid, expired or revoked.", "token_not_valid")


def jwt_refresh(*, refresh: str) -> dict[str, str]:
    """Exchange a refresh token for a new pair; the old refresh token is blacklisted.

    Raises ``ApiError`` ``token_not_valid`` (401) for an invalid, expired,
    already rotated or revoked token, or one whose user is no longer active.
    """
    serializer = TokenRefreshSerializer(data={"refresh": refresh})
    try:
        _check_version(RefreshToken(refresh))  # type: ignore[arg-type]
        serializer.is_valid(raise_exception=True)
    except Exception as exc:  # TokenError, InvalidToken, AuthenticationFailed
        raise ApiError(*_TOKEN_INVALID, status_code=UNAUTHORIZED) from exc
    data = serializer.validated_data
    return {"access": str(data["access"]), "refresh": str(data["refresh"])}


def _check_version(token: RefreshToken) -> None:
    """Raise ``TokenError`` when ``token`` carries an older version than its user has now."""
    user = User.objects.filter(pk=token.get("user_id")).only("token_version").first()
    if user is None or token.get(TOKEN_VERSION_CLAIM, 0) != user.token_version:
        raise TokenError("token version ended")


def jwt_revoke(*, refresh: str) -> int | None:
    """Blacklist one refresh token; returns its user's id.

    Raises ``ApiError`` ``token_not_valid`` (401) when the token is not a valid refresh token.
    """
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]
        token.blacklist()
    except TokenError as exc:
        raise ApiError(*_TOKEN_INVALID, status_code=UNAUTHORIZED) from exc
    user_id = token.get("user_id")
    return int(user_id) if user_id is not None else None


def jwt_revoke_all(*, user: User) -> int:
    """Blacklist every outstanding refresh token of ``user``; returns how many were added."""
    added = 0
    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    for token in pending.order_by("pk"):
        _, created = BlacklistedToken.objects.get_or_create(token=token)
        added += created
    return added
