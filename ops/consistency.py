"""Is every open swap where its chain facts say it should be? Read-only.

The same derivation ``swaps.services.swap_reconcile`` runs (``swaps.machine`` over the
confirmed locks ``swaps.onchain.lock_facts`` reads), but nothing is written: used by
``restore --verify`` on a restored copy, and safe on a live database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chains.interface import ChainUnavailable, LockState


@dataclass
class SwapCheck:
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def open_swaps_check(*, chain_facts: bool = False) -> SwapCheck:
    """Check each open swap against the facts in the lock table.

    - the state the facts imply equals the swap's state: consistent;
    - it lies ahead on a legal forward path: a warning (``swaps.reconcile`` will move it,
      as after a missed event);
    - it lies behind (the facts lost a lock the swap's state relies on), or no legal path
      leads there: a failure.

    With `chain_facts`, each lock the swap records is also read from its chain: a lock the
    chain does not know (a reset chain, the wrong network) or one the chain shows live
    while the table says it ended is a failure; a chain ahead of the table is fine (the
    watcher resumes from the restored cursor). An unreachable chain is a warning.
    """
    from swaps import machine, onchain
    from swaps.models import OPEN_STATES, Swap

    result = SwapCheck()
    swaps = Swap.objects.filter(state__in=OPEN_STATES).select_related(
        "base_asset", "quote_asset", "taker", "maker"
    )
    for swap in swaps.order_by("created_at", "pk"):
        result.checked += 1
        label = f"swap {swap.pk} ({swap.state})"
        try:
            facts = onchain.lock_facts(swap.hashlock)
            target = machine.target_state(machine.classify(onchain.terms(swap), facts))
        except Exception as exc:  # e.g. a network no longer configured
            result.failures.append(f"{label}: cannot derive its state: {exc}")
            continue
        if target != swap.state:
            steps = machine.path(swap.state, target)
            if not steps or machine.is_rollback(swap.state, target):
                result.failures.append(f"{label}: chain facts imply {target}")
            else:
                result.warnings.append(f"{label}: behind its chain facts ({target})")
        if chain_facts:
            _chain_check(swap, facts, label, result)
    return result


def _chain_check(swap, facts, label: str, result: SwapCheck) -> None:
    from swaps import onchain

    recorded = {(lk.network, lk.lock_id): lk for lk in facts}
    for lock_id in (swap.taker_lock_id, swap.maker_lock_id):
        lock = next((lk for (_, lid), lk in recorded.items() if lid == lock_id), None)
        if not lock_id or lock is None:
            continue
        try:
            now = onchain.lock_state_now(network_name=lock.network, lock_id=lock_id)
        except ChainUnavailable as exc:
            result.warnings.append(f"{label}: {lock.network} unreachable, lock unverified: {exc}")
            continue
        if now == LockState.NONE:
            result.failures.append(f"{label}: lock {lock_id} unknown on {lock.network}")
        elif now == LockState.LOCKED and lock.state != LockState.LOCKED:
            result.failures.append(
                f"{label}: lock {lock_id} live on {lock.network}, recorded {lock.state.name}"
            )
