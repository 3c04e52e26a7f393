"""API answers cached as the bytes sent, for reads that are the same for every client.

A hit costs no serializer and no renderer: the body is the rendered JSON the first request
produced. The key names the full URL and the negotiated media type (its parameters, such as
``indent``, change the bytes). What invalidates an entry is the caller's cached read
(``marketplace.cache.cached_read``, ``oracle.selectors.cached_over_prices``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request
from rest_framework.views import APIView

CachedRead = Callable[[str, Any, Callable[[], bytes]], bytes]


def cached_response(
    read: CachedRead, name: str, request: Request, view: APIView, data: Callable[[], Any]
) -> HttpResponse:
    """The JSON answer of ``data()`` for this URL, from `read`'s cache when it holds it.
    ``data()`` may raise an API exception (a 400 for bad input): nothing is cached then."""
    renderer, media_type = request.accepted_renderer, request.accepted_media_type

    def render() -> bytes:
        return renderer.render(data(), media_type, view.get_renderer_context())

    body = read(name, (request.build_absolute_uri(), media_type), render)
    content_type = renderer.media_type
    if renderer.charset:
        content_type += f"; charset={renderer.charset}"
    return HttpResponse(body, content_type=content_type)
