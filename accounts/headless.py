"""allauth's app API (``/_allauth/app/v1/``) hands e-mail users the same JWT pair as SIWE.

A mobile app signs in with e-mail and password through allauth's headless flows (sign-up,
verification, password reset, rate limits and, for staff, 2FA all stay allauth's); once
authenticated, the response's ``meta`` carries ``access_token`` and ``refresh_token``:
the project's own JWTs, accepted by ``/api/v1/`` and refreshed by
``/api/v1/auth/token/refresh`` (or allauth's ``/tokens/refresh``).
"""

from __future__ import annotations

from typing import Any

from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy
from django.conf import settings
from django.http import HttpRequest

from accounts import services
from accounts.models import User
from core.api.errors import ApiError


class JwtPairTokenStrategy(SessionTokenStrategy):
    def create_access_token_payload(self, request: HttpRequest) -> dict[str, Any] | None:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        pair = services.jwt_pair_issue(user=user)
        return {
            "access_token": pair["access"],
            "refresh_token": pair["refresh"],
            "expires_in": settings.JWT_ACCESS_MINUTES * 60,
        }

    def refresh_token(self, refresh_token: str) -> tuple[str, str] | None:
        try:
            pair = services.jwt_refresh(refresh=refresh_token)
        except ApiError:
            return None
        return pair["access"], pair["refresh"]
