"""In-app notices to a user from apps that may not import the one that keeps them.

The notices themselves (``swaps.models.Notification``: the list, the unread badge, e-mail to
a verified address and Web Push, each in the reader's language) belong to ``swaps``, which
sits beside, not below, ``escrow``. So ``swaps`` registers its writer here in
``AppConfig.ready()`` and other apps call ``notify``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from accounts.models import User

logger = logging.getLogger(__name__)


class Sink(Protocol):
    def __call__(self, *, user: User, kind: str, message: str, params: dict, link: str) -> None:
        """Store the notice (and send what goes with it) inside the current transaction."""


_sink: Sink | None = None


def sink_register(sink: Sink) -> None:
    """Name the one writer of notices (``swaps`` in its ``ready()``)."""
    global _sink
    _sink = sink


def notify(*, user: User, kind: str, message: str, params: dict | None = None, link: str) -> None:
    """Tell `user`: `message` in English, marked with ``gettext_noop`` (translated when
    shown or mailed, then filled with `params`), opening the site path `link`.

    Writes in the caller's transaction; the mail and push go out on commit. Without a
    registered writer the notice is logged and dropped."""
    if not link.startswith("/") or link.startswith("//"):
        raise ValueError("link is a path on this site")
    if _sink is None:
        logger.warning("no notice writer registered", extra={"kind": kind})
        return
    _sink(user=user, kind=kind, message=message, params=params or {}, link=link)
