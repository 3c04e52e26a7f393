"""The Content-Security-Policy headers (core.middleware.CSPMiddleware) are django-csp's own,
built once per process: each case below compares them with django-csp's middleware."""

from __future__ import annotations

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSP
from django.http import HttpResponse
from django.test import RequestFactory

from core.middleware import CSPMiddleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'none'"], "report-uri": "/csp-report/"}}


def _directives(header: str | None) -> dict[str, list[str]] | None:
    # django-csp writes the directives in set order: compare them as a mapping.
    if header is None:
        return None
    parts = (d.strip().split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def _both(path: str = "/", status: int = 200, *, nonce: bool = False, **attributes):
    """The headers of one response through ours and through django-csp's."""
    answers = []
    for middleware in (CSPMiddleware, DjangoCSP):
        request = RequestFactory().get(path)
        response = HttpResponse(status=status)
        for name, value in attributes.items():
            setattr(response, name, value)
        instance = middleware(lambda r: response)
        instance.process_request(request)
        if nonce:
            str(request.csp_nonce)
        instance.process_response(request, response)
        answers.append(
            {h: _directives(response.headers.get(h)) for h in (HEADER, HEADER_REPORT_ONLY)}
        )
    return answers


def test_a_plain_response_gets_django_csps_header():
    ours, theirs = _both()
    assert ours == theirs
    assert ours[HEADER]["frame-ancestors"] == ["'none'"]
    assert ours[HEADER_REPORT_ONLY] is None


def test_a_report_only_policy_and_a_settings_change_show_at_once(settings):
    # given: a first response built the headers
    _both()
    # when
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = REPORT_ONLY
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'", "cdn.test"]}}
    # then
    ours, theirs = _both()
    assert ours == theirs
    assert ours[HEADER]["default-src"] == ["'self'", "cdn.test"]
    assert ours[HEADER_REPORT_ONLY]["default-src"] == ["'none'"]


@pytest.mark.parametrize(
    "case",
    [
        {"nonce": True},
        {"_csp_update": {"img-src": ["img.test"]}},
        {"_csp_replace": {"script-src": ["'none'"]}},
        {"_csp_config": {"default-src": ["'none'"]}},
        {"_csp_exempt": True},
        {"path": "/excluded/page"},
        {"status": 404},
    ],
)
def test_every_other_case_is_django_csps(settings, case):
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/excluded"],
    }
    settings.DEBUG = True  # a 404 then carries Django's debug page, with no header
    ours, theirs = _both(**case)
    assert ours == theirs


def test_a_nonce_is_in_the_header_and_none_can_be_drawn_after_it(settings):
    # given: a policy that names the nonce
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'", NONCE]}}
    middleware = CSPMiddleware(lambda r: HttpResponse())
    # when: a page draws it
    request = RequestFactory().get("/")
    middleware.process_request(request)
    nonce = str(request.csp_nonce)
    response = middleware.process_response(request, HttpResponse())
    # then
    assert _directives(response[HEADER])["script-src"] == ["'self'", f"'nonce-{nonce}'"]
    # and: without a nonce, one drawn once the header is written is an error
    request = RequestFactory().get("/")
    middleware.process_request(request)
    middleware.process_response(request, HttpResponse())
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)
