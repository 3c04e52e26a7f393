"""Who hears of each confirmed (or orphaned) HTLC event, and in what order.

The order is a correctness rule, so it is code here, and tested, not a settings list:

1. ``chains.locks`` keeps the lock table. It always comes first: every subscriber reads it.
2. Subscribers that apps register in their ``AppConfig.ready()``, in registration order,
   which is ``INSTALLED_APPS`` order: ``chains`` registers the relayer, ``swaps`` its state
   machine.
3. ``settings.CHAIN_EVENT_HOOKS``: dotted paths of outside subscribers, last.

Each is called inside the watcher's transaction (see ``chains.watcher``): one that raises
undoes the whole pass, and the same events come again.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.module_loading import import_string

from chains import locks
from chains.interface import HtlcEvent

Subscriber = Callable[[HtlcEvent], None]

_registered: dict[str, Subscriber] = {}


def subscribe(name: str, handler: Subscriber) -> None:
    """Register `handler` under `name` (from an ``AppConfig.ready()``); a repeat replaces it
    in place, so a second ``ready()`` changes nothing."""
    _registered[name] = handler


def subscribers() -> list[Subscriber]:
    """Every subscriber in the order it must hear an event (see the module docstring)."""
    outside = [import_string(path) for path in settings.CHAIN_EVENT_HOOKS]
    return [locks.on_chain_event, *_registered.values(), *outside]


def subscriber_names() -> list[str]:
    """The registered subscribers' names in order (for the tests and the admin)."""
    return ["chains.locks", *_registered]
