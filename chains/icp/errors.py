"""The errors ``chains.icp`` raises: one hierarchy under ``IcpError``.

Kept apart from ``agent`` so that ``certificate`` (which ``agent`` uses) can raise
them without an import cycle. Both modules re-export what they raise.
"""

from __future__ import annotations


class IcpError(Exception):
    """Base class of every error raised by ``chains.icp`` (agent, certificate, ledger, xrc)."""


class IcpInvalidArgument(IcpError, ValueError):
    """The caller passed something the IC would refuse (bad principal, subaccount, symbol)."""


class IcpUnavailable(IcpError):
    """The IC could not be reached or answered in time (network, timeout, HTTP 429 or 5xx).

    ``status_code`` is the HTTP status when there was one. Retrying later may work.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class IcpPollTimeout(IcpUnavailable):
    """An update call was accepted but its outcome was not known before the deadline.

    The call may still execute; ``request_id`` (hex) identifies it and
    ``last_status`` is the last request status seen (``None`` if never seen).
    """

    def __init__(self, message: str, *, request_id: str, last_status: str | None) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.last_status = last_status


class IcpRejected(IcpError):
    """The replica or the canister rejected the call.

    ``reject_code`` follows the interface spec (1 SYS_FATAL .. 6 SYS_UNKNOWN, see the
    ``REJECT_*`` constants); ``error_code`` is the optional ``IC0xxx`` label.
    """

    def __init__(self, reject_code: int, message: str, error_code: str | None = None) -> None:
        super().__init__(f"rejected (code {reject_code}): {message}")
        self.reject_code = reject_code
        self.message = message
        self.error_code = error_code


class IcpProtocolError(IcpError):
    """The answer does not follow the protocol (bad CBOR/candid, unexpected HTTP status,
    a reply for another asset pair, ...). Retrying will most likely not help."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class IcpCertificateError(IcpProtocolError):
    """A certified answer failed verification: it must not be used.

    The base of the specific failures below; also raised as such for a certificate
    that is malformed (not CBOR, no tree, a tree that is not a hash tree, no ``time``).
    A subclass of ``IcpProtocolError``: retrying the same node will most likely not help.
    """


class IcpSignatureInvalid(IcpCertificateError):
    """A signature does not verify: the certificate's BLS signature over its tree's root
    hash (a tampered tree, another root or subnet key), or a node's signature on a query
    answer (tampered, missing, or by a node that is not in the canister's subnet)."""


class IcpCertificateStale(IcpCertificateError):
    """The certificate's ``time`` (or a query signature's timestamp) is further from now
    than the allowed age (``ICP_CERTIFICATE_MAX_AGE``): a replayed or lagging answer."""

    def __init__(self, message: str, *, age_seconds: float) -> None:
        super().__init__(message)
        self.age_seconds = age_seconds


class IcpDelegationInvalid(IcpCertificateError):
    """The subnet delegation is not acceptable: not CBOR, nested, its certificate is not
    signed by the root key, or it does not publish the subnet's public key."""


class IcpCanisterNotInSubnet(IcpDelegationInvalid):
    """The delegated subnet is not authorised for the canister: the canister id lies
    outside the canister ranges its (root-signed) delegation lists, or none are listed."""


class IcpIdentityInvalid(IcpError):
    """A delegation chain, canister signature or session-key signature that does not prove
    a principal (``chains.icp.delegation_chain``, ``chains.icp.canister_signature``).

    ``code`` names what failed, a stable snake_case word callers may show or switch on:
    ``delegation_malformed``, ``delegation_expired``, ``delegation_targets``,
    ``delegation_signature_invalid``, ``canister_signature_invalid``,
    ``not_internet_identity``, ``session_signature_invalid``.
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
