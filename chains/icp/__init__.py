"""Internet Computer (ICP) client: ICRC-1 balances and the Exchange Rate Canister.

* ``agent``: the anonymous HTTP-interface transport (envelopes, query / call /
  read_state polling, every answer verified), principals; its docstring says why
  ic-py's own agent is not used;
* ``certificate``: verification of certificates (BLS signature, hash tree, subnet
  delegation, time) and of query node signatures, and the pinned mainnet root key;
* ``errors``: the ``IcpError`` hierarchy;
* ``ledger``: the ICRC-1 ledger's API (``LedgerClient.icrc1_balance_of``).
* ``xrc``: the Exchange Rate Canister's API (``XrcClient.get_exchange_rate``,
  ``RATE_ERROR_KINDS``, ``IcpRateError``, ``ExchangeRate``).
* ``canister_signature`` and ``delegation_chain``: Internet Identity sign-in, i.e. which
  principal a session key speaks for (``verify_principal_proof``, ``IcpIdentityInvalid``).

The public names are re-exported here, so ``from chains import icp; icp.X`` works.
"""

from __future__ import annotations

from chains.icp.agent import (
    DEFAULT_IC_HOST,
    LOCAL_REPLICA_HOST,
    REJECT_CANISTER_ERROR,
    REJECT_CANISTER_REJECT,
    REJECT_DESTINATION_INVALID,
    REJECT_SYS_FATAL,
    REJECT_SYS_TRANSIENT,
    REJECT_SYS_UNKNOWN,
    Agent,
    IcpCanisterNotInSubnet,
    IcpCertificateError,
    IcpCertificateStale,
    IcpDelegationInvalid,
    IcpError,
    IcpInvalidArgument,
    IcpPollTimeout,
    IcpProtocolError,
    IcpRejected,
    IcpSignatureInvalid,
    IcpUnavailable,
    principal_is_valid,
)
from chains.icp.certificate import (
    DEFAULT_CERTIFICATE_MAX_AGE,
    IC_ROOT_KEY,
    Certificate,
    verify_certificate,
)
from chains.icp.delegation_chain import (
    DelegationChain,
    ProvenPrincipal,
    delegation_chain_from_json,
    verify_principal_proof,
)
from chains.icp.errors import IcpIdentityInvalid
from chains.icp.ledger import ICP_LEDGER_CANISTER_ID, LedgerClient
from chains.icp.xrc import ASSET_CLASSES, RATE_ERROR_KINDS, ExchangeRate, IcpRateError, XrcClient


class IcpClient(LedgerClient, XrcClient):
    """Anonymous IC HTTP-interface client for ICRC-1 balances and XRC rates, every
    answer verified (certificates, query node signatures) against the root key.

    Both canister APIs on one ``Agent`` (its docstring has the arguments, timeouts
    and connection pool). Safe to share between threads.
    """


__all__ = [
    "ASSET_CLASSES",
    "DEFAULT_CERTIFICATE_MAX_AGE",
    "DEFAULT_IC_HOST",
    "IC_ROOT_KEY",
    "ICP_LEDGER_CANISTER_ID",
    "LOCAL_REPLICA_HOST",
    "RATE_ERROR_KINDS",
    "REJECT_CANISTER_ERROR",
    "REJECT_CANISTER_REJECT",
    "REJECT_DESTINATION_INVALID",
    "REJECT_SYS_FATAL",
    "REJECT_SYS_TRANSIENT",
    "REJECT_SYS_UNKNOWN",
    "Agent",
    "Certificate",
    "DelegationChain",
    "ExchangeRate",
    "IcpCanisterNotInSubnet",
    "IcpCertificateError",
    "IcpCertificateStale",
    "IcpClient",
    "IcpDelegationInvalid",
    "IcpError",
    "IcpIdentityInvalid",
    "IcpInvalidArgument",
    "IcpPollTimeout",
    "IcpProtocolError",
    "IcpRateError",
    "IcpRejected",
    "IcpSignatureInvalid",
    "IcpUnavailable",
    "LedgerClient",
    "ProvenPrincipal",
    "XrcClient",
    "delegation_chain_from_json",
    "principal_is_valid",
    "verify_certificate",
    "verify_principal_proof",
]
