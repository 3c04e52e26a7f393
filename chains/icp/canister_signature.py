"""Canister signatures: how a canister (Internet Identity) signs, and how that is checked.

Written from the IC interface specification, "Canister signatures":

* **Public key**: DER ``SubjectPublicKeyInfo`` with the algorithm OID
  1.3.6.1.4.1.56387.1.2 (no parameters) and a BIT STRING holding
  ``len(canister_id) ‖ canister_id ‖ seed`` (one length byte). The key names the signing
  canister; the seed is the canister's choice (Internet Identity derives it from the user's
  anchor and the front-end origin).
* **Signature**: CBOR ``{certificate: blob, tree: hash tree}``.
* **Valid** when the certificate verifies for the signing canister (root key, subnet
  delegation, the canister inside the delegated subnet's ranges: ``verify_certificate``),
  ``/canister/<canister_id>/certified_data`` in it equals the root hash of ``tree``, and
  ``/sig/<sha256(seed)>/<sha256(message)>`` is in ``tree`` as an empty leaf. ``message``
  is the whole signed payload, its domain separator included.

The certificate's time bounds how old the signature is: a canister signature stays usable
for as long as what it signs says (a delegation's expiration), so the caller gives the
bounds (``max_age_seconds`` into the past, ``max_skew_seconds`` into the future) rather
than the 5-minute freshness of a ``read_state`` answer.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

import cbor2

from chains.icp.certificate import (
    Lookup,
    lookup_path,
    tree_digest,
    verify_certificate,
)
from chains.icp.errors import IcpCertificateError, IcpIdentityInvalid

# 1.3.6.1.4.1.56387.1.2, the canister signature algorithm, as DER content bytes.
CANISTER_SIGNATURE_OID = bytes.fromhex("2b0601040183b8430102")
_SEQUENCE, _BIT_STRING, _OID = 0x30, 0x03, 0x06
_MAX_CANISTER_ID_BYTES = 29
_NS = 1_000_000_000
CANISTER_SIGNATURE_INVALID = "canister_signature_invalid"


@dataclass(frozen=True)
class CanisterSignatureKey:
    """A canister signature public key: the signing canister (raw principal bytes), the
    seed it chose, and the DER encoding both were read from."""

    canister_id: bytes
    seed: bytes
    der: bytes


# --------------------------------------------------------------------------- DER


def _tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """One DER tag-length-value at ``pos``: ``(tag, value, next position)``.

    Raises ``ValueError`` on truncation, indefinite or non-minimal lengths.
    """
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        size = first & 0x7F
        if size == 0 or size > 2 or pos + size > len(data):
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
        if length < 0x80 or (size == 2 and length < 0x100):
            raise ValueError("non-minimal DER length")
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[pos : pos + length], pos + length


def canister_signature_key_from_der(der: bytes) -> CanisterSignatureKey:
    """Read a DER canister signature public key.

    Raises ``ValueError`` if ``der`` is anything else (another algorithm, parameters,
    trailing bytes, an empty or over-long canister id).
    """
    if not isinstance(der, bytes):
        raise ValueError("a public key is bytes")
    tag, body, end = _tlv(der, 0)
    if tag != _SEQUENCE or end != len(der):
        raise ValueError("not a DER SubjectPublicKeyInfo")
    tag, algorithm, pos = _tlv(body, 0)
    if tag != _SEQUENCE:
        raise ValueError("not a DER SubjectPublicKeyInfo")
    tag, oid, after_oid = _tlv(algorithm, 0)
    if tag != _OID or oid != CANISTER_SIGNATURE_OID or after_oid != len(algorithm):
        raise ValueError("not a canister signature key (algorithm OID)")
    tag, bits, end = _tlv(body, pos)
    if tag != _BIT_STRING or end != len(body) or not bits or bits[0] != 0:
        raise ValueError("malformed canister signature key (bit string)")
    content = bits[1:]
    if not content:
        raise ValueError("empty canister signature key")
    size = content[0]
    if not 1 <= size <= _MAX_CANISTER_ID_BYTES or len(content) < 1 + size:
        raise ValueError("malformed canister id in a canister signature key")
    return CanisterSignatureKey(
        canister_id=content[1 : 1 + size], seed=content[1 + size :], der=der
    )


def is_canister_signature_key(der: bytes) -> bool:
    """Whether ``der`` is a well-formed canister signature public key."""
    try:
        canister_signature_key_from_der(der)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- verification


def _refuse(message: str) -> IcpIdentityInvalid:
    return IcpIdentityInvalid(message, code=CANISTER_SIGNATURE_INVALID)


def _parse_signature(signature: bytes) -> tuple[bytes, Any]:
    try:
        value = cbor2.loads(signature)
    except Exception as exc:  # cbor2 raises several unrelated types on bad input
        raise _refuse(f"canister signature is not CBOR: {type(exc).__name__}") from exc
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("certificate"), bytes)
        or "tree" not in value
    ):
        raise _refuse("canister signature is not a map with a certificate and a tree")
    return value["certificate"], value["tree"]


def verify_canister_signature(
    *,
    message: bytes,
    signature: bytes,
    key: CanisterSignatureKey,
    root_key: bytes,
    max_age_seconds: float,
    max_skew_seconds: float,
    now_ns: int | None = None,
) -> int:
    """Check that ``key``'s canister signed ``message``; returns the certificate's time (ns).

    ``message`` is the full signed payload (domain separator included). The certificate
    must verify against ``root_key`` for the signing canister (``verify_certificate``:
    BLS signature, subnet delegation, canister in the subnet's ranges), certify the
    canister's data as the root hash of the signature's tree, and that tree must hold
    ``/sig/<sha256(seed)>/<sha256(message)>`` as an empty leaf. Its time may be at most
    ``max_age_seconds`` old and ``max_skew_seconds`` ahead of ``now_ns`` (default: the clock).

    Side effects: none. Raises ``IcpIdentityInvalid`` (code ``canister_signature_invalid``),
    chained to the ``IcpCertificateError`` when the certificate itself was refused.
    """
    cert_bytes, tree = _parse_signature(signature)
    try:
        # Freshness is judged below with this signature's own bounds.
        certificate = verify_certificate(
            cert_bytes, canister_id=key.canister_id, root_key=root_key, max_age_seconds=math.inf
        )
        certified = certificate.lookup([b"canister", key.canister_id, b"certified_data"])
        root_hash = tree_digest(tree)
    except IcpCertificateError as exc:
        raise _refuse(f"canister signature certificate refused: {exc}") from exc
    if certified is None:
        raise _refuse("the certificate does not certify the signing canister's data")
    if certified != root_hash:
        raise _refuse("the signature tree is not the canister's certified data")
    path = [b"sig", hashlib.sha256(key.seed).digest(), hashlib.sha256(message).digest()]
    found, leaf = lookup_path(tree, path)
    if found is not Lookup.FOUND or leaf != b"":
        raise _refuse("the canister did not sign this message with this seed")
    now = time.time_ns() if now_ns is None else now_ns
    age = (now - certificate.time_ns) / _NS
    if age > max_age_seconds:
        raise _refuse(f"the canister signature is {age:.0f}s old")
    if -age > max_skew_seconds:
        raise _refuse(f"the canister signature is {-age:.0f}s in the future")
    return certificate.time_ns
