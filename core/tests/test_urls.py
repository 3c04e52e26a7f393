"""The root URLconf tries the API and the probes before the pages (config/urls.py): a path of
theirs then never walks every page pattern first. That order is safe only while no page
pattern can match a path of theirs, which this holds."""

from __future__ import annotations

import re

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern

FIRST = ("api/", "health/", "metrics")


def _literal_start(pattern) -> str:
    """The text every path this pattern matches starts with."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = text.removeprefix("^")
        return re.split(r"[\\.^$*+?{}\[\]|()]", text, maxsplit=1)[0]
    return text.split("<", 1)[0]


def _leaves(patterns, prefix: str = ""):
    for entry in patterns:
        start = prefix + _literal_start(entry.pattern)
        whole = start == prefix + str(entry.pattern)  # no converter or regex in it
        if isinstance(entry, URLResolver):
            if not whole:  # a converter in an include's own prefix: its start is all we know
                yield start, entry
            else:
                yield from _leaves(entry.url_patterns, start)
        else:
            assert isinstance(entry, URLPattern)
            yield start, entry


def test_no_page_pattern_can_match_a_path_of_the_api_or_the_probes():
    # given: the root patterns after the API's and the probes'
    root = get_resolver().url_patterns
    firsts = [i for i, p in enumerate(root) if _literal_start(p.pattern).startswith(FIRST)]
    assert firsts == list(range(len(firsts))), "the API and the probes come first"
    # then: every page pattern starts with text that no path of theirs starts with, and
    # the only one starting with nothing is the home page (the empty path)
    for start, entry in _leaves(root[len(firsts) :]):
        if start == "":
            assert str(entry.pattern) in ("", "^$"), f"{entry!r} may match any path"
            continue
        for first in FIRST:
            assert not start.startswith(first), f"{entry!r} starts with {first!r}"
            assert not first.startswith(start), f"{entry!r} may match a path under {first!r}"


def test_the_api_and_the_probes_resolve_to_their_own_views():
    # when/then: a path of each resolves to its view, an unknown API path to the API's 404
    assert resolve("/api/v1/listings/").url_name == "listings-list"
    assert resolve("/api/v1/prices/").url_name is not None
    assert resolve("/health/live").url_name == "health-live"
    assert resolve("/metrics").url_name == "metrics"
    assert resolve("/api/v9/nothing/").func.__name__ == "api_not_found"
    assert resolve("/market/ETH/TEST/").url_name == "market"
