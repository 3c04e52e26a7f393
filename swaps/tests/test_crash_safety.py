"""Crash safety: a worker killed at any step, or down for the whole swap, loses nothing;
the swap finishes from chain state alone.

A worker killed mid-pass is a watcher transaction that never commits: a hook raising
inside it is exactly that (nothing of the pass is stored, the cursor does not move). A
relayer that was down is a relayer hook that did not run. Then the processes "start
again" (the normal scan and the periodic reconcile task) and the swap must complete.
"""

from __future__ import annotations

import pytest

from chains import events
from chains.interface import ChainUnavailable
from chains.models import ChainEvent
from swaps import tasks
from swaps.tests.flow import detail, redeem, scan_all, send, take

pytestmark = pytest.mark.django_db(transaction=True)

DYING = ["swaps.tests.test_crash_safety.dying_hook"]  # an outside subscriber: heard last


class Killed(Exception):
    pass


def dying_hook(batch) -> None:
    """Stands for the worker process dying after the swap hook ran, before the commit."""
    raise Killed(batch[0].name)


@pytest.mark.parametrize("dies_at", ["taker_lock", "maker_lock", "redeem"])
def test_worker_killed_mid_pass_at_each_step_loses_nothing(swap_env, settings, dies_at):
    # given
    a, b = swap_env
    swap, secret, (maker_api, maker_key), (taker_api, taker_key), _ = take(swap_env)

    def scan(step: str):
        if step == dies_at:
            settings.CHAIN_EVENT_HOOKS = DYING
            stored = ChainEvent.objects.count()
            with pytest.raises((Killed, ChainUnavailable)):  # the watcher wraps it
                scan_all(swap_env)
            assert ChainEvent.objects.count() == stored  # the pass left nothing behind
            settings.CHAIN_EVENT_HOOKS = []  # the worker starts again
        scan_all(swap_env)

    # when: the swap runs, and the worker dies once at `dies_at`
    send(b, taker_key, swap["next_action"])
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])
    scan("taker_lock")
    send(a, maker_key, detail(maker_api, swap["id"])["next_action"])
    scan("maker_lock")
    step = detail(taker_api, swap["id"])["next_action"]
    redeem(a, taker_key, step, secret)
    scan("redeem")
    scan_all(swap_env)

    # then
    view = detail(maker_api, swap["id"])
    assert view["state"] == "completed"
    assert [e["to_state"] for e in view["history"]].count("completed") == 1


def test_watcher_down_for_the_whole_swap_then_finishes_from_chain_state(swap_env, monkeypatch):
    # given: no watcher runs while both parties lock (they act on next_action, which needs
    # the taker's lock confirmed before the maker is told to lock: the maker locks anyway)
    a, b = swap_env
    swap, secret, (maker_api, maker_key), (taker_api, taker_key), _ = take(swap_env)
    send(b, taker_key, swap["next_action"])
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])
    scan_all(swap_env)
    send(a, maker_key, detail(maker_api, swap["id"])["next_action"])
    # the relayer is down too: its subscriber does not run
    running = {k: v for k, v in events._registered.items() if k != "chains.relayer"}
    monkeypatch.setattr(events, "_registered", running)
    scan_all(swap_env)
    step = detail(taker_api, swap["id"])["next_action"]
    redeem(a, taker_key, step, secret)
    scan_all(swap_env)
    assert detail(maker_api, swap["id"])["state"] == "secret_revealed"

    # when: the relayer and the periodic reconcile start again
    monkeypatch.undo()
    tasks.reconcile()
    scan_all(swap_env)

    # then: the relayer redeemed the taker's lock from chain facts; the swap completed
    assert detail(maker_api, swap["id"])["state"] == "completed"
