"""Refusals defined once: the code, the message and the HTTP status a service raises are the
same objects the OpenAPI schema documents, so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import OpenApiResponse

from core.api.errors import ApiError
from core.api.schema import error_response


@dataclass(frozen=True)
class Refusal:
    """One way an operation is refused: a stable snake_case ``code`` clients switch on, the
    message people read and the HTTP status.

    ``message`` may be lazily translated (``gettext_lazy``): it is rendered in the language
    active when the error is raised. It may hold ``%(name)s`` placeholders that ``error``
    fills in."""

    code: str
    message: Any
    status: int = 400

    def error(self, cls: type[ApiError] = ApiError, **params: Any) -> ApiError:
        """The exception to raise: `cls` with this code, status and message (its
        placeholders filled from `params`)."""
        text = str(self.message)
        return cls(text % params if params else text, self.code, self.status)


def refusal_response(description: str, *refusals: Refusal) -> OpenApiResponse:
    """The documented error response listing `refusals`, one example each."""
    return error_response(description, *((r.code, str(r.message)) for r in refusals))


def by_status(*refusals: Refusal) -> dict[int, list[Refusal]]:
    """`refusals` grouped by their HTTP status, for ``extend_schema(responses=...)``."""
    grouped: dict[int, list[Refusal]] = {}
    for refusal in refusals:
        grouped.setdefault(refusal.status, []).append(refusal)
    return grouped
