"""Template helpers of the swap pages: times people can read (UTC in the HTML, the reader's
local time and a live countdown once ``static/js/swap-times.js`` runs) and the header's
unread badge."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html
from django.utils.translation import ngettext

from swaps import selectors

register = template.Library()


def _as_datetime(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


@register.simple_tag
def moment(value, countdown: bool = False):
    """``<time>`` for a datetime, ISO text or Unix timestamp: UTC text without scripts; with
    scripts, the reader's local time (and with `countdown`, the time left, ticking)."""
    when = _as_datetime(value)
    if when is None:
        return ""
    when = when.astimezone(UTC)
    return format_html(
        '<time datetime="{}" data-local{}>{} UTC</time>',
        when.isoformat().replace("+00:00", "Z"),
        " data-countdown" if countdown else "",
        when.strftime("%Y-%m-%d %H:%M"),
    )


@register.filter
def duration(seconds) -> str:
    """A window in whole minutes ("2 minutes"), or seconds below one minute."""
    seconds = int(seconds)
    if seconds < 60:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    minutes = round(seconds / 60)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


@register.simple_tag(takes_context=True)
def unread_count(context) -> int:
    """How many notifications the signed-in reader has not read (one COUNT query)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return selectors.unread_count(user=user)
