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


# Answers any operation can give whatever its view documents, from the layers around it:
# (status, description, applies(operation) -> bool). Added by the schema postprocessing hook
# below when an operation does not document that status itself.
def _has_body(op: dict) -> bool:
    return "requestBody" in op


def _authenticated(op: dict) -> bool:
    return any(requirement for requirement in op.get("security", []))


def _addressed(op: dict) -> bool:
    params = op.get("parameters", [])
    return any(p.get("in") == "path" or p.get("name") == "page" for p in params)


FRAMEWORK_RESPONSES = [
    (
        "400",
        "Invalid input: a field or parameter (`fields` names it), malformed JSON "
        "(`parse_error`), JSON nested too deep (`json_too_deep`) or a number out of range "
        "(`out_of_range`).",
        lambda op: True,
    ),
    (
        "401",
        "A bad `Authorization` header (`token_invalid`), an invalid, expired or ended access "
        "token (`token_not_valid`), or none where one is needed (`not_authenticated`).",
        lambda op: True,
    ),
    (
        "403",
        "Signed in but the current terms of service are not accepted (`terms_not_accepted`), "
        "a session request without its CSRF token (`csrf_failed`), or not allowed.",
        _authenticated,
    ),
    ("404", "No such object, or not yours; or a page past the end of a list.", _addressed),
    ("413", "The request body is too large (`request_too_large`).", _has_body),
    ("415", "The request body is not in a media type this operation accepts.", _has_body),
    ("429", "Too many requests (`throttled`, with `Retry-After`).", lambda op: True),
]
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
        "retry_after": {"type": "integer"},
    },
    "required": ["detail", "code"],
}


def document_framework_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: every operation documents the statuses the
    boundary, authentication, terms gate, pagination and throttles can answer with."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("FrameworkError", _ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/FrameworkError"}
    for item in result.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("get", "put", "patch", "post", "delete"):
                continue
            responses = op.setdefault("responses", {})
            for status, description, applies in FRAMEWORK_RESPONSES:
                if status not in responses and applies(op):
                    responses[status] = {
                        "description": description,
                        "content": {"application/json": {"schema": ref}},
                    }
    return result
