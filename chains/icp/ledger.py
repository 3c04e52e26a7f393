"""The ICRC-1 ledger's API (balances), over the anonymous ``Agent``."""

from __future__ import annotations

from ic.candid import Types, encode

from chains.icp.agent import Agent, IcpInvalidArgument, IcpProtocolError, require_principal

ICP_LEDGER_CANISTER_ID = "ryjl3-tyaaa-aaaaa-aaaba-cai"

# Candid type, written from the ledger's icrc1.did.
_ACCOUNT = Types.Record({"owner": Types.Principal, "subaccount": Types.Opt(Types.Vec(Types.Nat8))})


class LedgerClient(Agent):
    """``Agent`` with the ICRC-1 ledger's API: ``icrc1_balance_of``."""

    def icrc1_balance_of(
        self,
        *,
        owner: str,
        ledger_canister_id: str = ICP_LEDGER_CANISTER_ID,
        subaccount: bytes | None = None,
    ) -> int:
        """Return the ICRC-1 balance of ``owner`` (+ ``subaccount``) in the ledger's base
        unit (e8s for the ICP ledger), via a query call to ``icrc1_balance_of``.

        Preconditions: ``owner`` and ``ledger_canister_id`` are textual principals;
        ``subaccount`` is None or exactly 32 bytes (None means the default subaccount).
        Side effects: one HTTP POST to ``/query``, plus a ``/read_state`` of ``/subnet``
        when the subnet's node keys are not cached. The answer's node signature is
        verified against those certified keys: one node's signed word, not consensus.
        Raises: IcpInvalidArgument, IcpUnavailable, IcpRejected, IcpProtocolError, or an
        IcpCertificateError subclass when the answer does not verify.
        """
        owner_bytes = require_principal(owner, "owner")
        if subaccount is not None and (not isinstance(subaccount, bytes) or len(subaccount) != 32):
            raise IcpInvalidArgument("subaccount must be exactly 32 bytes (ICRC-1)")
        arg = encode(
            [
                {
                    "type": _ACCOUNT,
                    "value": {
                        "owner": owner_bytes,
                        "subaccount": [] if subaccount is None else [subaccount],
                    },
                }
            ]
        )
        reply = self._query(ledger_canister_id, "icrc1_balance_of", arg)
        balance = self._decode(reply, Types.Nat, "icrc1_balance_of")
        if not isinstance(balance, int) or balance < 0:
            raise IcpProtocolError(f"icrc1_balance_of returned a non-nat: {balance!r}")
        return balance
