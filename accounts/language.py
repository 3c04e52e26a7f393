"""The profile's language follows the person: a sign-in switches the site to it, and a new
account starts in the language it was created in."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


def active_language() -> str:
    """The language of the current request if the site offers it, else ``LANGUAGE_CODE``:
    what a new account's ``preferred_language`` starts as."""
    offered = {code for code, _name in settings.LANGUAGES}
    language = translation.get_language() or settings.LANGUAGE_CODE
    return language if language in offered else settings.LANGUAGE_CODE


def apply_on_sign_in(request: HttpRequest, language: str) -> None:
    """Switch this request to ``language`` and mark it so ``SignInLanguageMiddleware``
    stores it in the language cookie (Django keeps the choice only there)."""
    if language not in {code for code, _name in settings.LANGUAGES}:
        return
    translation.activate(language)
    request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
    request.sign_in_language = language  # type: ignore[attr-defined]


class SignInLanguageMiddleware:
    """Sets the language cookie on the response of a sign-in (e-mail, SIWE or Internet
    Identity: all go through ``django.contrib.auth.login``, whose signal marks the request)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        language = getattr(request, "sign_in_language", None)
        if language:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
