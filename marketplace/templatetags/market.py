"""Template helpers of the market pages: a maker's public record and its KYC level in words."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import PublicReputation, public_reputation

register = template.Library()


@register.filter
def public_record(user: User) -> PublicReputation:
    """`user`'s public record (join ``maker__reputation`` in lists: no query per row)."""
    return public_reputation(user)


@register.filter
def kyc_words(level: str) -> str:
    """A KYC level as a badge says it."""
    words: dict[str, str] = {
        User.KycLevel.NONE: _("not verified"),
        User.KycLevel.BASIC: _("ID checked"),
        User.KycLevel.VERIFIED: _("fully verified"),
    }
    return words.get(level, level)


@register.filter
def dict_get(mapping: dict, key: object) -> object:
    """``mapping[key]`` in a template ("" when missing)."""
    return mapping.get(key, "") if isinstance(mapping, dict) else ""
