"""Sections that other apps add to a person's public page (``/u/<id>/``).

The page belongs to ``marketplace``; a seller's shop reviews belong to ``escrow``, which
sits beside it, not below. So ``escrow`` registers a provider here in ``AppConfig.ready()``
and the page shows whatever the providers return, in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from accounts.models import User


@dataclass(frozen=True)
class Section:
    """A template to include on the public page, and its context (public facts only)."""

    template: str
    context: dict = field(default_factory=dict)


Provider = Callable[[User], Section | None]
_providers: dict[str, Provider] = {}


def section_register(name: str, provider: Provider) -> None:
    """Add (or replace, by `name`) a provider: it returns a Section, or None to show nothing."""
    _providers[name] = provider


def public_sections(user: User) -> list[Section]:
    """The sections of `user`'s public page."""
    return [s for provider in _providers.values() if (s := provider(user)) is not None]
