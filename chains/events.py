"""Who hears of each confirmed (or orphaned) HTLC event, and in what order.

The order is a correctness rule, so it is code here, and tested, not a settings list:

1. ``chains.locks`` keeps the lock table. It always comes first: every subscriber reads it.
2. Subscribers that apps register in their ``AppConfig.ready()``, by their ``order`` (not
   by ``INSTALLED_APPS`` order): ``RELAY`` (``chains``' relayer queues redeems of sibling
   locks), then ``DOMAIN`` (``swaps``' state machine).
3. ``settings.CHAIN_EVENT_HOOKS``: dotted paths of outside subscribers, last.

Each is called inside the watcher's transaction (see ``chains.watcher``): one that raises
undoes the whole pass, and the same events come again.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from django.conf import settings
from django.utils.module_loading import import_string

from chains import locks
from chains.interface import HtlcEvent

Subscriber = Callable[[HtlcEvent], None]


class Order(IntEnum):
    """When a registered subscriber hears an event, relative to the others."""

    RELAY = 10
    DOMAIN = 20


_registered: dict[str, tuple[Order, Subscriber]] = {}


def subscribe(name: str, handler: Subscriber, *, order: Order) -> None:
    """Register `handler` under `name` (from an ``AppConfig.ready()``); a repeat replaces it,
    so a second ``ready()`` changes nothing. Equal orders keep registration order."""
    _registered[name] = (order, handler)


def _in_order() -> list[tuple[str, Subscriber]]:
    ranked = sorted(_registered.items(), key=lambda item: item[1][0])  # stable
    return [(name, handler) for name, (_, handler) in ranked]


def subscribers() -> list[Subscriber]:
    """Every subscriber in the order it must hear an event (see the module docstring)."""
    outside = [import_string(path) for path in settings.CHAIN_EVENT_HOOKS]
    return [locks.on_chain_event, *(handler for _, handler in _in_order()), *outside]


def subscriber_names() -> list[str]:
    """The lock table's and the registered subscribers' names, in order."""
    return ["chains.locks", *(name for name, _ in _in_order())]
