"""Pages that open the Internet Identity window, and what they need to do so.

Internet Identity answers the page that opened it through ``window.opener.postMessage``.
A page served with ``Cross-Origin-Opener-Policy: same-origin`` (this site's default,
``SECURE_CROSS_ORIGIN_OPENER_POLICY``) severs that link for a popup of another origin: the
window never reaches the page, and the page sees it as closed at once. The pages that
offer Internet Identity are therefore served with ``same-origin-allow-popups``, which
still keeps other origins' windows away from ours (Internet Identity's documented
requirement for sites).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from allauth.account.views import login as allauth_login
from django.http import HttpRequest, HttpResponse

# Django's SecurityMiddleware only sets the header when the response has none.
IDENTITY_PROVIDER_OPENER_POLICY = "same-origin-allow-popups"


def allow_identity_provider_popups(
    view: Callable[..., HttpResponse],
) -> Callable[..., HttpResponse]:
    """Serve ``view``'s responses with ``Cross-Origin-Opener-Policy: same-origin-allow-popups``
    so that the Internet Identity window it opens can answer it."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Cross-Origin-Opener-Policy"] = IDENTITY_PROVIDER_OPENER_POLICY
        return response

    return wrapped


# allauth's sign-in page, which offers "Sign in with Internet Identity" beside e-mail and
# Ethereum (config/urls.py routes /accounts/login/ here, ahead of allauth's own route).
login = allow_identity_provider_popups(allauth_login)
