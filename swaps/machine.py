"""What the chains say a swap's state is: a pure function of its terms and its locks.

The watcher delivers each network's events in order, but the two networks of a swap are
read independently, so one side may be seen before the other. ``target_state`` is
therefore a function of the two sides' *current* facts only, chosen so that every order
of delivery walks the same forward path (see the table in ``target_state``). Nothing
here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from chains.interface import Lock, LockSpec, LockState
from swaps.models import HAPPY_PATH, OPEN_STATES, Swap

S = Swap.State
LOCKED, REDEEMED, REFUNDED = LockState.LOCKED, LockState.REDEEMED, LockState.REFUNDED


@dataclass(frozen=True)
class Terms:
    """What each side's lock must be (``swaps.onchain.terms``): addresses lowercase, the
    native coin's token as ``NATIVE_TOKEN``, amounts in base units."""

    taker: LockSpec  # the taker's lock, on the quote network, paying the maker
    maker: LockSpec  # the maker's lock, on the base network, paying the taker
    timelock_tolerance: int
    taker_wallets: frozenset[str]
    maker_wallets: frozenset[str]


@dataclass(frozen=True)
class Sides:
    taker: Lock | None
    maker: Lock | None
    flag: str  # "" or why the swap is flagged
    flagged_lock: Lock | None = None


def _problem(lock: Lock, expected: LockSpec, tolerance: int) -> str:
    if lock.token != expected.token:
        return "token"
    if lock.amount != expected.amount:
        return "amount"
    if lock.timelock < expected.timelock - tolerance:
        return "timelock_too_short"
    if lock.timelock > expected.timelock + tolerance:
        return "timelock_too_long"
    return ""


def _side(
    locks: list[Lock],
    *,
    role: str,
    expected: LockSpec,
    party_wallets: frozenset[str],
    tolerance: int,
) -> tuple[Lock | None, str, Lock | None]:
    """The lock that counts for one side, or the flag its party's first bad lock raises.

    The first lock in chain order decides: a valid one counts (later ones are ignored
    and simply get refunded); a bad one flags the swap if the party itself sent it. A
    bad lock from anyone else (anyone can copy a public hashlock) is ignored, so a
    stranger cannot derail a swap.
    """
    for lock in sorted(locks, key=lambda lk: (lk.locked_block, lk.lock_id)):
        problem = _problem(lock, expected, tolerance)
        if not problem:
            return lock, "", None
        if lock.sender in party_wallets:
            return None, f"{role}_lock_{problem}", lock
    return None, "", None


def classify(terms: Terms, locks: list[Lock]) -> Sides:
    """Sort the locks carrying the hashlock into the taker's side and the maker's side: a
    side's locks are those on its network paying its recipient."""

    def side(role: str, expected: LockSpec, wallets: frozenset[str]):
        mine = [
            lk
            for lk in locks
            if lk.network == expected.network and lk.recipient == expected.recipient
        ]
        return _side(
            mine,
            role=role,
            expected=expected,
            party_wallets=wallets,
            tolerance=terms.timelock_tolerance,
        )

    taker, taker_flag, taker_bad = side("taker", terms.taker, terms.taker_wallets)
    maker, maker_flag, maker_bad = side("maker", terms.maker, terms.maker_wallets)
    return Sides(
        taker=taker,
        maker=maker,
        flag=taker_flag or maker_flag,
        flagged_lock=taker_bad or maker_bad,
    )


# rows: the taker's lock; columns: the maker's lock (None, locked, redeemed, refunded).
_TABLE: dict[LockState | None, dict[LockState | None, str]] = {
    None: {None: S.CREATED, LOCKED: S.CREATED, REDEEMED: S.CREATED, REFUNDED: S.CREATED},
    # A maker lock seen before the taker's (the other watcher is behind) waits in CREATED.
    LOCKED: {
        None: S.TAKER_LOCKED,
        LOCKED: S.MAKER_LOCKED,
        REDEEMED: S.SECRET_REVEALED,
        REFUNDED: S.REFUNDED,
    },
    # The taker's lock redeemed while the maker's side is not seen yet: wait for it.
    REDEEMED: {
        None: S.TAKER_LOCKED,
        LOCKED: S.SECRET_REVEALED,
        REDEEMED: S.COMPLETED,
        # Only possible if the taker leaked the secret: the maker was paid and refunded.
        REFUNDED: S.FLAGGED,
    },
    REFUNDED: {None: S.REFUNDED, LOCKED: S.REFUNDED, REDEEMED: S.REFUNDED, REFUNDED: S.REFUNDED},
}


def target_state(sides: Sides) -> str:
    """The state the confirmed chain facts imply (before cancel or expiry are considered)."""
    if sides.flag:
        return S.FLAGGED
    return _TABLE[sides.taker.state if sides.taker else None][
        sides.maker.state if sides.maker else None
    ]


# Forward order of the open states (the happy path before its end), for walking between them.
_ORDER: list[str] = [state for state in HAPPY_PATH if state in OPEN_STATES]


def is_rollback(current: str, target: str) -> bool:
    """Whether reaching `target` means undoing steps (a reorg orphaned their evidence)."""
    return current in _ORDER and target in _ORDER and _ORDER.index(target) < _ORDER.index(current)


def path(current: str, target: str) -> list[str]:
    """The states to pass through, in order, to go from `current` to `target` (excluded
    `current`). Forward moves follow ``_ORDER`` and end with a terminal state if the target
    is one; backward moves (a reorg) step back one open state at a time. Empty when the
    target cannot be reached (a terminal state never moves)."""
    if current == target or current not in _ORDER:
        return []
    here = _ORDER.index(current)
    if target in _ORDER:
        there = _ORDER.index(target)
        if there > here:
            return _ORDER[here + 1 : there + 1]
        return list(reversed(_ORDER[there:here]))
    if target == S.COMPLETED:  # only after the secret is public
        return [*_ORDER[here + 1 :], S.COMPLETED]
    if target == S.REFUNDED and here == 0:  # a refund needs the taker's lock first
        return [S.TAKER_LOCKED, S.REFUNDED]
    return [target]
