"""OpenAPI helpers shared by every app's API: the one error shape, with examples per code."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


def error_response(description: str, *codes: tuple[str, str]) -> OpenApiResponse:
    """A documented error response with one example per (code, detail)."""
    return OpenApiResponse(
        ErrorOutput,
        description=description,
        examples=[
            OpenApiExample(code, value={"detail": detail, "code": code}, response_only=True)
            for code, detail in codes
        ],
    )


# Every endpoint takes a session or a JWT access token.
UNAUTHENTICATED = error_response(
    "No or invalid credentials.",
    ("not_authenticated", "Authentication credentials were not provided."),
    ("token_not_valid", "The access token is invalid or has expired."),
    ("token_invalid", "The Authorization header must be `Bearer <access token>`."),
    ("account_inactive", "This account cannot sign in."),
)
THROTTLED = error_response(
    "Too many requests (`Retry-After` header).", ("throttled", "Request was throttled.")
)
