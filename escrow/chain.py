"""Confirmed Escrow events → order states. The only way money-related states are reached.

``on_chain_event`` is a ``chains.events`` subscriber (order DOMAIN). It receives every
confirmed (and every orphaned) event the watcher stores, as ``chains.interface.HtlcEvent``
(name, the order id in ``lock_id``, decoded ``args``: addresses checksummed, integers as
decimal strings, bytes32 as 0x hex), inside the watcher's transaction: if it raises, the
whole pass rolls back and the same events come again. Events of other contracts are ignored.

- ``EscrowDeposited`` counts for the order whose ``ref`` it names only if every term
  matches (token, buyer, seller, amount, fee, release time) and the order has no deposit
  yet: created (or cancelled: a late deposit is honoured, flagged) → funded. A deposit off
  the terms leaves the order as it is, flagged ``deposit_off_terms`` (the money is still
  safe in the escrow: the named buyer may release, the named seller refund).
- ``EscrowReleased`` / ``EscrowRefunded`` / ``EscrowDisputed`` / ``EscrowResolved`` move the
  order with that on-chain id to released / refunded / disputed / resolved.
- A repeat (the same transaction's event twice) changes nothing; an event the order's
  state cannot take (e.g. a release of an order already refunded, impossible on chain) is
  logged as an error for staff, never raised, so the watcher is not stalled by it.
- An orphaned event (a reorg) undoes the move it caused, if it was the order's last move:
  back to the state before it, recorded with cause ``reorg``. A reorg under an older move
  is logged for staff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from chains.escrow import EVENTS, is_escrow_contract
from chains.interface import HtlcEvent
from escrow import onchain, services
from escrow.errors import InvalidTransition
from escrow.models import Order, OrderEvent

logger = logging.getLogger(__name__)
S = Order.State

# Which event moves an order to which state (the deposit is handled apart: it is matched
# by the order's ref, the others by the contract's order id).
MOVES = {
    "EscrowReleased": S.RELEASED,
    "EscrowRefunded": S.REFUNDED,
    "EscrowDisputed": S.DISPUTED,
    "EscrowResolved": S.RESOLVED,
}


@dataclass(frozen=True)
class Deposit:
    """An ``EscrowDeposited`` event's terms, lowercase, amounts in base units."""

    order_id: str
    ref: str
    token: str
    buyer: str
    seller: str
    amount: int
    fee: int
    release_at: int

    @classmethod
    def from_args(cls, args: dict) -> Deposit:
        return cls(
            order_id=str(args["id"]).lower(),
            ref=str(args["ref"]).lower(),
            token=str(args["token"]).lower(),
            buyer=str(args["buyer"]).lower(),
            seller=str(args["seller"]).lower(),
            amount=int(args["amount"]),
            fee=int(args["fee"]),
            release_at=int(args["release_at"]),
        )

    def matches(self, terms: onchain.Terms) -> bool:
        return (
            self.ref,
            self.token,
            self.buyer,
            self.seller,
            self.amount,
            self.fee,
            self.release_at,
        ) == (
            terms.ref,
            terms.token,
            terms.buyer,
            terms.seller,
            terms.amount,
            terms.fee,
            terms.release_at,
        )


def on_chain_events(events) -> None:
    """The escrow's subscriber (``chains.events``, order DOMAIN): each event of a batch, in
    chain order."""
    for event in events:
        on_chain_event(event)


def on_chain_event(event: HtlcEvent) -> None:
    """Apply one confirmed Escrow event to its order, or undo it if orphaned (see the
    module docstring). Ignores every other contract's events."""
    if event.name not in EVENTS or event.name in ("EscrowCredited", "EscrowWithdrawn"):
        return
    if not is_escrow_contract(network_name=event.network, address=event.contract):
        return
    evidence = services.Evidence(event.network, event.tx_hash.lower(), event.block_number)
    if event.orphaned:
        _undo(event, evidence)
    elif event.name == "EscrowDeposited":
        _deposited(event, Deposit.from_args(event.args), evidence)
    else:
        _moved(event, MOVES[event.name], evidence)


def _deposited(event: HtlcEvent, deposit: Deposit, evidence: services.Evidence) -> None:
    order = (
        Order.objects.select_related("asset")
        .filter(ref=deposit.ref, asset__network=event.network)
        .first()
    )
    if order is None:
        return  # a deposit this platform did not ask for: not ours to track
    if order.onchain_id:
        if order.onchain_id != deposit.order_id:
            logger.warning(
                "second deposit for an order ignored",
                extra={"order": str(order.pk), "tx_hash": evidence.tx_hash},
            )
        return
    if not deposit.matches(onchain.terms(order)):
        Order.objects.filter(pk=order.pk).update(flag_reason="deposit_off_terms")
        logger.error(
            "escrow deposit off the order's terms",
            extra={"order": str(order.pk), "tx_hash": evidence.tx_hash},
        )
        return
    cause = "deposit_confirmed" if order.state == S.CREATED else "deposit_after_cancel"
    fields: dict = {"onchain_id": deposit.order_id}
    if order.state == S.CANCELLED:
        fields["flag_reason"] = "funded_after_cancel"
    _transition(order, S.FUNDED, cause, evidence, fields)


def _moved(event: HtlcEvent, to: str, evidence: services.Evidence) -> None:
    order = Order.objects.filter(asset__network=event.network, onchain_id=event.lock_id).first()
    if order is None:
        return  # an order whose deposit did not count (off terms), or not ours
    if _applied(order, evidence.tx_hash):
        return  # a repeat: already applied (and not undone by a reorg since)
    _transition(order, to, event.name, evidence)


def _applied(order: Order, tx_hash: str) -> bool:
    """Whether the event of `tx_hash` moved the order and no reorg undid that since."""
    moves = OrderEvent.objects.filter(order=order, tx_hash=tx_hash)
    return moves.exclude(cause="reorg").count() > moves.filter(cause="reorg").count()


def _transition(
    order: Order, to: str, cause: str, evidence: services.Evidence, fields: dict | None = None
) -> None:
    try:
        services.order_transition(
            order_id=order.pk, to=to, cause=cause, evidence=evidence, fields=fields
        )
    except InvalidTransition:
        logger.error(
            "escrow event does not fit the order's state",
            extra={"order": str(order.pk), "to": to, "tx_hash": evidence.tx_hash},
        )


def _undo(event: HtlcEvent, evidence: services.Evidence) -> None:
    caused = (
        OrderEvent.objects.filter(
            network=event.network, tx_hash=evidence.tx_hash, order__asset__network=event.network
        )
        .exclude(cause="reorg")
        .select_related("order")
        .order_by("-pk")
        .first()
    )
    if caused is None:
        return
    order = caused.order
    last = order.events.order_by("-pk").first()
    if last is None or last.pk != caused.pk or order.state != caused.to_state:
        logger.error(
            "reorg undid an escrow event under later moves; left for staff",
            extra={"order": str(order.pk), "tx_hash": evidence.tx_hash},
        )
        return
    fields = {"onchain_id": ""} if caused.to_state == S.FUNDED else None
    services.order_transition(
        order_id=order.pk,
        to=caused.from_state,
        cause="reorg",
        evidence=evidence,
        fields=fields,
        rollback=True,
    )
