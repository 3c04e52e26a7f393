"""Delegation chains (Internet Identity sign-in): which principal a session key speaks for.

A browser signed in with Internet Identity holds a *session key* and a delegation chain:
the II canister delegates from its canister signature key (whose self-authenticating id
is the user's principal for this site) to the session key, possibly through more keys.
Written from the IC interface specification ("Authentication", "Delegation"; "Canister
signatures") and agent-js's ``DelegationChain`` (the JSON form browsers send):

* each delegation ``{pubkey, expiration, targets?}`` is signed over
  ``"\\x1aic-request-auth-delegation" ‖ hash_of_map(delegation)`` by the key before it
  (the chain's public key for the first one);
* the first signer must be a **canister signature key of the Internet Identity canister**
  (``chains.icp.canister_signature``: certificate, certified data, signature tree);
  the later ones Ed25519, ECDSA P-256 or ECDSA secp256k1 (64-byte ``r ‖ s``, SHA-256),
  as the IC accepts for sender keys;
* every delegation must be unexpired, no key may appear twice, at most 20 delegations
  (the IC's limit);
* a delegation restricted to ``targets`` (canisters) is refused: this site is not a
  canister, so such a chain does not speak for the principal here;
* the last delegated key (the session key) must sign the site's challenge.

The principal is the self-authenticating id of the chain's public key (SHA-224 of the DER
key, then 0x02), exactly as the IC derives the caller of a request signed this way.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_der_public_key,
)

from chains.icp.agent import principal_to_text, require_principal
from chains.icp.canister_signature import (
    CANISTER_SIGNATURE_INVALID,
    canister_signature_key_from_der,
    verify_canister_signature,
)
from chains.icp.certificate import (
    configured_max_age,
    configured_root_key,
    hash_of_map,
    self_authenticating_id,
)
from chains.icp.errors import IcpIdentityInvalid

DELEGATION_DOMAIN = b"\x1aic-request-auth-delegation"
# The IC refuses longer chains; Internet Identity makes chains of one.
MAX_DELEGATIONS = 20
# Internet Identity signs delegations of at most 30 days; its canister signature can be no
# older than that and still stand behind an unexpired delegation.
MAX_CANISTER_SIGNATURE_AGE_SECONDS = 30 * 24 * 3600
_MAX_TARGETS = 1000
_MAX_KEY_BYTES = 512
_MAX_SIGNATURE_BYTES = 64 * 1024  # a canister signature carries a certificate
# agent-js writes blobs as plain lower-case hex and numbers as hex without "0x".
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_HEX_NUMBER = re.compile(r"[0-9a-fA-F]{1,16}")

MALFORMED = "delegation_malformed"
EXPIRED = "delegation_expired"
TARGETS = "delegation_targets"
SIGNATURE_INVALID = "delegation_signature_invalid"
NOT_INTERNET_IDENTITY = "not_internet_identity"
SESSION_SIGNATURE_INVALID = "session_signature_invalid"


@dataclass(frozen=True)
class Delegation:
    """One delegation: ``pubkey`` (DER) may act until ``expiration_ns``, for ``targets``
    (raw canister ids) when given."""

    pubkey: bytes
    expiration_ns: int
    targets: tuple[bytes, ...] | None = None

    def signable(self) -> bytes:
        """What the delegating key signs: the domain separator and the map's hash."""
        content: dict[str, Any] = {"pubkey": self.pubkey, "expiration": self.expiration_ns}
        if self.targets is not None:
            content["targets"] = list(self.targets)
        return DELEGATION_DOMAIN + hash_of_map(content)


@dataclass(frozen=True)
class SignedDelegation:
    delegation: Delegation
    signature: bytes


@dataclass(frozen=True)
class DelegationChain:
    """The chain's public key (DER; the principal's key) and its delegations, in order."""

    public_key: bytes
    delegations: tuple[SignedDelegation, ...]


@dataclass(frozen=True)
class ProvenPrincipal:
    """What a verified chain and session signature prove.

    ``principal``: canonical text of the principal; ``identity_canister_id``: the canister
    that signed for it; ``session_public_key``: the DER key that signed the challenge;
    ``expires_at_ns``: the earliest expiration in the chain; ``signed_at_ns``: the time
    the canister's signature was certified.
    """

    principal: str
    identity_canister_id: str
    session_public_key: bytes
    expires_at_ns: int
    signed_at_ns: int


# --------------------------------------------------------------------------- parsing


def _malformed(message: str) -> IcpIdentityInvalid:
    return IcpIdentityInvalid(message, code=MALFORMED)


def _hex(value: Any, what: str, *, limit: int) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) > 2 * limit:
        raise _malformed(f"{what} is not a hex string of at most {limit} bytes")
    return bytes.fromhex(value)


def delegation_chain_from_json(value: Any) -> DelegationChain:
    """Read a chain in agent-js's JSON form (``DelegationChain.toJSON()``):
    ``{"publicKey": hex, "delegations": [{"delegation": {"pubkey": hex, "expiration":
    hex nanoseconds, "targets"?: [hex]}, "signature": hex}]}``.

    Side effects: none. Raises ``IcpIdentityInvalid`` (``delegation_malformed``).
    """
    if not isinstance(value, Mapping):
        raise _malformed("a delegation chain is an object")
    public_key = _hex(value.get("publicKey"), "publicKey", limit=_MAX_KEY_BYTES)
    items = value.get("delegations")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_DELEGATIONS:
        raise _malformed(f"a delegation chain has 1 to {MAX_DELEGATIONS} delegations")
    delegations = []
    for index, item in enumerate(items):
        what = f"delegation {index}"
        body = item.get("delegation") if isinstance(item, Mapping) else None
        if not isinstance(body, Mapping):
            raise _malformed(f"{what} has no delegation object")
        expiration = body.get("expiration")
        if not isinstance(expiration, str) or not _HEX_NUMBER.fullmatch(expiration):
            raise _malformed(f"{what}: expiration is not a 64-bit hex number")
        expiration_ns = int(expiration, 16)
        targets = body.get("targets")
        if targets is not None:
            if not isinstance(targets, list) or len(targets) > _MAX_TARGETS:
                raise _malformed(f"{what}: targets is not a list")
            targets = tuple(_hex(t, f"{what} target", limit=29) for t in targets)
        delegations.append(
            SignedDelegation(
                Delegation(
                    pubkey=_hex(body.get("pubkey"), f"{what} pubkey", limit=_MAX_KEY_BYTES),
                    expiration_ns=expiration_ns,
                    targets=targets,
                ),
                signature=_hex(
                    item.get("signature"), f"{what} signature", limit=_MAX_SIGNATURE_BYTES
                ),
            )
        )
    return DelegationChain(public_key, tuple(delegations))


# --------------------------------------------------------------------------- signatures


def verify_basic_signature(der_public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check a signature by an Ed25519, ECDSA P-256 or ECDSA secp256k1 key (DER
    ``SubjectPublicKeyInfo``), as the IC checks sender signatures: Ed25519 over the
    message; ECDSA over its SHA-256, the signature as 64 bytes ``r ‖ s``.

    Side effects: none. Raises ``ValueError`` for a key of another kind or not in
    canonical DER; False for a signature that does not verify.
    """
    try:
        key = load_der_public_key(der_public_key)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError("not a supported DER public key") from exc
    if key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) != der_public_key:
        raise ValueError("public key is not in canonical DER")
    try:
        if isinstance(key, Ed25519PublicKey):
            key.verify(signature, message)
            return True
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(
            key.curve, ec.SECP256R1 | ec.SECP256K1
        ):
            if len(signature) != 64:
                return False
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(SHA256()))
            return True
    except InvalidSignature:
        return False
    raise ValueError("only Ed25519, ECDSA P-256 and ECDSA secp256k1 keys are accepted")


def _check_basic(der: bytes, message: bytes, signature: bytes, *, code: str, what: str) -> None:
    try:
        valid = verify_basic_signature(der, message, signature)
    except ValueError as exc:
        raise _malformed(f"{what}: {exc}") from exc
    if not valid:
        raise IcpIdentityInvalid(f"{what} does not verify", code=code)


def verify_principal_proof(
    *,
    chain: DelegationChain,
    message: bytes,
    signature: bytes,
    identity_canister_id: str,
    root_key: bytes | None = None,
    max_skew_seconds: float | None = None,
    now_ns: int | None = None,
) -> ProvenPrincipal:
    """Verify that ``signature`` over ``message`` was made by a session key to which the
    Internet Identity canister ``identity_canister_id`` delegated, and for which principal.

    Checks, in order: the chain's public key is a canister signature key of that canister
    (``not_internet_identity``); no key repeats; each delegation is unexpired at ``now_ns``
    (default: the clock; ``delegation_expired``) and has no ``targets``
    (``delegation_targets``); the first delegation's canister signature (certificate
    against ``root_key`` (default: ``ICP_ROOT_KEY``, else mainnet's), certified data,
    signature tree; at most ``MAX_CANISTER_SIGNATURE_AGE_SECONDS`` old and
    ``max_skew_seconds`` (default: ``ICP_CERTIFICATE_MAX_AGE``) ahead;
    ``canister_signature_invalid``); each later one by the key before it
    (``delegation_signature_invalid``); ``signature`` by the last delegated key
    (``session_signature_invalid``).

    Side effects: none (no network: the canister signature carries its certificate).
    Raises ``IcpIdentityInvalid`` with one of those codes, or ``delegation_malformed``;
    ``ValueError`` for a misconfigured ``ICP_ROOT_KEY``.
    """
    root_key = configured_root_key() if root_key is None else root_key
    skew = configured_max_age() if max_skew_seconds is None else max_skew_seconds
    expected = require_principal(identity_canister_id, "Internet Identity canister id")
    try:
        root = canister_signature_key_from_der(chain.public_key)
    except ValueError as exc:
        raise IcpIdentityInvalid(
            f"the chain does not start at a canister signature: {exc}", code=NOT_INTERNET_IDENTITY
        ) from exc
    if root.canister_id != expected:
        raise IcpIdentityInvalid(
            f"the chain was signed by canister {principal_to_text(root.canister_id)}, "
            f"not Internet Identity {identity_canister_id}",
            code=NOT_INTERNET_IDENTITY,
        )
    if not chain.delegations or len(chain.delegations) > MAX_DELEGATIONS:
        raise _malformed(f"a delegation chain has 1 to {MAX_DELEGATIONS} delegations")
    keys = [chain.public_key, *(d.delegation.pubkey for d in chain.delegations)]
    if len(set(keys)) != len(keys):
        raise _malformed("a key appears twice in the delegation chain")
    now = time.time_ns() if now_ns is None else now_ns
    for index, signed in enumerate(chain.delegations):
        if signed.delegation.expiration_ns <= now:
            raise IcpIdentityInvalid(f"delegation {index} has expired", code=EXPIRED)
        if signed.delegation.targets is not None:
            raise IcpIdentityInvalid(f"delegation {index} is restricted to canisters", code=TARGETS)
    first = chain.delegations[0]
    signed_at = verify_canister_signature(
        message=first.delegation.signable(),
        signature=first.signature,
        key=root,
        root_key=root_key,
        max_age_seconds=MAX_CANISTER_SIGNATURE_AGE_SECONDS,
        max_skew_seconds=skew,
        now_ns=now,
    )
    for index, (before, signed) in enumerate(itertools.pairwise(chain.delegations), 1):
        _check_basic(
            before.delegation.pubkey,
            signed.delegation.signable(),
            signed.signature,
            code=SIGNATURE_INVALID,
            what=f"the signature of delegation {index}",
        )
    session_key = chain.delegations[-1].delegation.pubkey
    _check_basic(
        session_key,
        message,
        signature,
        code=SESSION_SIGNATURE_INVALID,
        what="the session key's signature",
    )
    return ProvenPrincipal(
        principal=principal_to_text(self_authenticating_id(chain.public_key)),
        identity_canister_id=principal_to_text(expected),
        session_public_key=session_key,
        expires_at_ns=min(d.delegation.expiration_ns for d in chain.delegations),
        signed_at_ns=signed_at,
    )


__all__ = [
    "CANISTER_SIGNATURE_INVALID",
    "DELEGATION_DOMAIN",
    "EXPIRED",
    "MALFORMED",
    "MAX_CANISTER_SIGNATURE_AGE_SECONDS",
    "MAX_DELEGATIONS",
    "NOT_INTERNET_IDENTITY",
    "SESSION_SIGNATURE_INVALID",
    "SIGNATURE_INVALID",
    "TARGETS",
    "Delegation",
    "DelegationChain",
    "ProvenPrincipal",
    "SignedDelegation",
    "delegation_chain_from_json",
    "verify_basic_signature",
    "verify_principal_proof",
]
