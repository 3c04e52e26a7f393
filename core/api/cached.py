"""API answers cached as the bytes sent, for reads that are the same for every client.

A hit costs no serializer and no renderer: the body is the rendered JSON the first request
produced. The key names the full URL and the negotiated media type (its parameters, such as
``indent``, change the bytes). What invalidates an entry is the caller's cached read
(``marketplace.cache.cached_read``, ``oracle.selectors.cached_over_prices``).

A view that answers so says which read a GET would use (``read_cache``): the throttle, which
runs first and talks to Redis anyway, then looks the entry up in its own round trip
(``read_ahead``, ``core.api.throttling``), and a hit costs one Redis round trip, not two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpResponse

from core.versioned import Found, Reads, entry_prefix

if TYPE_CHECKING:  # imported by the throttles, which DRF's settings import from its views
    from rest_framework.request import Request
    from rest_framework.views import APIView

# Where the throttle leaves the lookup it made for the view (``core.versioned.Found``).
AHEAD_ATTRIBUTE = "_read_ahead"


def _params(request: Request) -> tuple[str, str]:
    return request.build_absolute_uri(), request.accepted_media_type


def read_ahead(request: Request, view: Any) -> tuple[str, Sequence[str]] | None:
    """The entry prefix and versions that the view's answer to this request would look up
    (None: it looks up nothing), for a lookup made ahead of the view. The view says which
    read would answer a GET with a method ``read_cache(request) -> (Reads, name) | None``."""
    read_cache = getattr(view, "read_cache", None)
    if request.method != "GET" or read_cache is None or settings.READ_CACHE_SECONDS <= 0:
        return None
    which = read_cache(request)
    if which is None:
        return None
    reads, name = which
    return entry_prefix(name, _params(request)), reads.versions


def cached_response(
    reads: Reads, name: str, request: Request, view: APIView, data: Callable[[], Any]
) -> HttpResponse:
    """The JSON answer of ``data()`` for this URL, from `reads`' cache when it holds it.
    ``data()`` may raise an API exception (a 400 for bad input): nothing is cached then."""
    renderer, media_type = request.accepted_renderer, request.accepted_media_type

    def render() -> bytes:
        return renderer.render(data(), media_type, view.get_renderer_context())

    ahead: Found | None = getattr(request, AHEAD_ATTRIBUTE, None)
    body = reads(name, _params(request), render, ahead=ahead)
    content_type = renderer.media_type
    if renderer.charset:
        content_type += f"; charset={renderer.charset}"
    return HttpResponse(body, content_type=content_type)
