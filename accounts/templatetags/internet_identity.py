"""Template tags of the Internet Identity buttons."""

from __future__ import annotations

from django import template

from accounts.services.internet_identity import ii_provider_url as _provider_url

register = template.Library()


@register.simple_tag
def ii_provider_url() -> str:
    """The Internet Identity window the buttons open (``II_PROVIDER_URL``)."""
    return _provider_url()
