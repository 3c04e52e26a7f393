"""Whether pages offer the local demo faucet (``chains.faucet``): only with DEBUG on."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def faucet_enabled() -> bool:
    return bool(settings.DEBUG)
