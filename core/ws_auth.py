"""Who is on the other end of a WebSocket: the session user, or the bearer of a JWT.

Browsers are signed in by their session cookie (Channels' AuthMiddlewareStack). API
clients send their access token either in an ``Authorization: Bearer`` header (native
apps can) or, from a browser's ``WebSocket`` API, as the subprotocol pair
``["bearer", "<token>"]``; the server then answers with the ``bearer`` subprotocol.
Tokens are never read from the URL, which ends up in logs.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from rest_framework.settings import api_settings
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

BEARER = "bearer"


def _bearer_token(scope) -> tuple[str | None, str | None]:
    """(token, subprotocol to accept with) from the handshake, or (None, None)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            if kind.lower() == BEARER and token:
                return token.strip(), None
    protocols = list(scope.get("subprotocols") or [])
    if len(protocols) >= 2 and protocols[0] == BEARER:
        return protocols[1], BEARER
    return None, None


def _jwt_authentication() -> JWTAuthentication:
    """The API's own JWT authentication class (the project's checks, e.g. the token version,
    apply to WebSockets too), or simplejwt's when none is configured."""
    for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if isinstance(cls, type) and issubclass(cls, JWTAuthentication):
            return cls()
    return JWTAuthentication()


@database_sync_to_async
def _jwt_user(token: str):
    auth = _jwt_authentication()
    try:
        validated = auth.get_validated_token(token.encode())
        user = auth.get_user(validated)
    except (InvalidToken, TokenError, Exception):  # any bad token is simply "not signed in"
        return None
    return user if user.is_active else None


async def ws_user(scope):
    """(user or None, subprotocol to accept with or None) for a WebSocket handshake."""
    user = scope.get("user")
    if user is not None and user.is_authenticated and user.is_active:
        return user, None
    token, subprotocol = _bearer_token(scope)
    if token is None:
        return None, None
    return await _jwt_user(token), subprotocol
