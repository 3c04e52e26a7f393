"""Who hears of each confirmed (or orphaned) HTLC event, and in what order.

A subscriber takes a whole batch: ``handler(events)`` with the list of a watcher batch's
new events in chain order (block, then log index), or of a rollback's orphaned events
newest first (``orphaned=True`` on each; a list never mixes the two). It is called once per
batch, never with an empty list, so it can read and write in bulk; it must give the same
end state as hearing the events one by one in that order. A subscriber that needs the facts
after each single event reads them from the lock table, which has applied the whole list
before anyone else hears it.

The order is a correctness rule, so it is code here, and tested, not a settings list:

1. ``chains.locks`` keeps the lock table. It always comes first: every subscriber reads it.
2. Subscribers that apps register in their ``AppConfig.ready()``, by their ``order`` (not
   by ``INSTALLED_APPS`` order): ``RELAY`` (``chains``' relayer queues redeems of sibling
   locks), then ``DOMAIN`` (``swaps``' state machine).
3. ``settings.CHAIN_EVENT_HOOKS``: dotted paths of outside subscribers, last. They take
   the same lists as the others: one interface, and an outside subscriber that writes gets
   the same chance to write in bulk.

Each is called inside the watcher's transaction (see ``chains.watcher``): one that raises
undoes the whole batch, and the same events come again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum

from django.conf import settings
from django.utils.module_loading import import_string

from chains import locks
from chains.interface import HtlcEvent

Subscriber = Callable[[Sequence[HtlcEvent]], None]


class Order(IntEnum):
    """When a registered subscriber hears a batch, relative to the others."""

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
    """Every subscriber in the order it must hear a batch (see the module docstring)."""
    outside = [import_string(path) for path in settings.CHAIN_EVENT_HOOKS]
    return [locks.on_chain_event, *(handler for _, handler in _in_order()), *outside]


def subscriber_names() -> list[str]:
    """The lock table's and the registered subscribers' names, in order."""
    return ["chains.locks", *(name for name, _ in _in_order())]


def publish(events: Sequence[HtlcEvent]) -> None:
    """Hand `events` (one batch, in the order the module docstring gives) to every
    subscriber in order, each once with the whole list; nothing when it is empty.

    Precondition: inside the watcher's batch transaction, under the network's cursor lock.
    Raises whatever a subscriber raises (the caller's transaction then rolls back).
    """
    if not events:
        return
    for handler in subscribers():
        handler(events)
