"""Verification of what the IC certifies: certificates and query node signatures.

Written from the IC interface specification ("Certification", "Lookup",
"Delegation", "Query call signatures") and checked against how agent-rs does it
(``Agent::verify``, ``check_delegation``, ``query_inner``):

* **Hash tree**: the root hash is rebuilt from the tree (Empty / Fork / Labeled /
  Leaf / Pruned, each hashed with its domain separator); lookups tell *found*,
  *absent* and *unknown* (pruned) apart, as the spec's ``lookup_path`` does.
* **Signature**: BLS12-381 "min-sig" (signature in G1, 48 bytes; public key in G2,
  96 bytes, DER-wrapped) over ``"\\x0dic-state-root" + root_hash``, hashed to G1 with
  the DST ``BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_``. The pairing code is
  ``py_arkworks_bls12381`` (arkworks, via the Ethereum Foundation's bindings); points
  are decoded with their subgroup checks and the identity is refused.
* **Delegation**: a certificate signed by a subnet carries the root subnet's
  certificate for it; that one must have no delegation itself, verify against the
  root key, list the canister inside the subnet's canister ranges
  (``/canister_ranges/<subnet>/<shard>``, or the older ``/subnet/<subnet>/canister_ranges``)
  and publish ``/subnet/<subnet>/public_key``, which then verifies the certificate.
  As in agent-rs, the delegation's own ``time`` is not checked (the IC refreshes it
  at its own pace); only the outer certificate's is.
* **Freshness**: the certificate's ``/time`` must be within ``max_age_seconds`` of
  now, in either direction.
* **Query signatures**: each node signature (Ed25519) over
  ``"\\x0bic-response" + hash_of_map(status, reply | reject, timestamp, request_id)``
  by a node whose key the subnet certifies at ``/subnet/<subnet>/node/<node>/public_key``.

Nothing here touches the network: ``agent.Agent`` fetches, this module judges.
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from py_arkworks_bls12381 import GT, G1Point, G2Point

from chains.icp.errors import (
    IcpCanisterNotInSubnet,
    IcpCertificateError,
    IcpCertificateStale,
    IcpDelegationInvalid,
    IcpSignatureInvalid,
)

# The IC's root public key (mainnet, NNS subnet tdb26-...), DER-encoded, as pinned
# by agent-rs, agent-js and the interface spec.
IC_ROOT_KEY = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
    "814c0e6ec71fab583b08bd81373c255c3c371b2e84863c98a4f1e08b74235d14fb5d9c0cd5"
    "46d9685f913a0c0b2cc5341583bf4b4392e467db96d65b9bb4cb717112f8472e0d5a4d1450"
    "5ffd7484b01291091c5f87b98883463f98091a0baaae"
)
# Seconds a certificate's time (or a query signature's timestamp) may be from now:
# the IC's maximum ingress expiry, as agent-rs uses.
DEFAULT_CERTIFICATE_MAX_AGE = 300.0

# DER prefix of a BLS12-381 G2 public key (OID 1.3.6.1.4.1.44668.5.3.1.2.1 with the
# curve 1.3.6.1.4.1.44668.5.3.2.1, then a 96-byte bit string).
BLS_DER_PREFIX = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
)
# DER prefix of an Ed25519 public key (RFC 8410), as node keys are published.
ED25519_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")
BLS_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"


def _domain(name: bytes) -> bytes:
    return bytes([len(name)]) + name


STATE_ROOT_DOMAIN = _domain(b"ic-state-root")
RESPONSE_DOMAIN = _domain(b"ic-response")
_EMPTY, _FORK, _LABELED, _LEAF, _PRUNED = 0, 1, 2, 3, 4
_EMPTY_DOMAIN = _domain(b"ic-hashtree-empty")
_FORK_DOMAIN = _domain(b"ic-hashtree-fork")
_LABELED_DOMAIN = _domain(b"ic-hashtree-labeled")
_LEAF_DOMAIN = _domain(b"ic-hashtree-leaf")
# Real trees are a few dozen levels deep; the bound keeps a hostile tree from
# exhausting the interpreter's stack.
_MAX_TREE_DEPTH = 256
_NS = 1_000_000_000


# --------------------------------------------------------------------------- hashing


def hash_of_map(value: Mapping[str, Any]) -> bytes:
    """The spec's representation-independent hash of a map (a request id, a signable).

    Values: blobs, text, naturals (LEB128), arrays (hash of the items' hashes) and
    nested maps. Raises ``TypeError`` for anything else (negative numbers, booleans).
    """
    parts = sorted(hashlib.sha256(k.encode()).digest() + _hash_value(v) for k, v in value.items())
    return hashlib.sha256(b"".join(parts)).digest()


def _hash_value(value: Any) -> bytes:
    if isinstance(value, bytes):
        return hashlib.sha256(value).digest()
    if isinstance(value, str):
        return hashlib.sha256(value.encode()).digest()
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return hashlib.sha256(uleb128(value)).digest()
    if isinstance(value, list | tuple):
        return hashlib.sha256(b"".join(_hash_value(v) for v in value)).digest()
    if isinstance(value, Mapping):
        return hash_of_map(value)
    raise TypeError(f"no representation-independent hash for {type(value).__name__}")


def uleb128(value: int) -> bytes:
    """Unsigned LEB128, shortest form."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def leb128_nat(data: bytes) -> int:
    """Decode an unsigned LEB128 blob that holds exactly one number.

    Raises ``IcpCertificateError`` on an empty, truncated or over-long blob.
    """
    value = 0
    for shift, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            if shift != len(data) - 1:
                raise IcpCertificateError("trailing bytes after a LEB128 number")
            return value
    raise IcpCertificateError("empty or truncated LEB128 number")


def self_authenticating_id(der_public_key: bytes) -> bytes:
    """The principal of a DER public key: SHA-224 of it, then 0x02 (the root subnet's
    id is that of the root key; node ids are those of their keys)."""
    return hashlib.sha224(der_public_key).digest() + b"\x02"


# --------------------------------------------------------------------------- hash trees


def tree_digest(tree: Any, _depth: int = 0) -> bytes:
    """The root hash of a CBOR-decoded hash tree.

    Raises ``IcpCertificateError`` if ``tree`` is not a well-formed hash tree.
    """
    if _depth > _MAX_TREE_DEPTH:
        raise IcpCertificateError("hash tree is too deep")
    if not isinstance(tree, list | tuple) or not tree or type(tree[0]) is not int:
        raise IcpCertificateError("hash tree node is not a tagged array")
    tag, size = tree[0], len(tree)
    if tag == _EMPTY and size == 1:
        return hashlib.sha256(_EMPTY_DOMAIN).digest()
    if tag == _FORK and size == 3:
        left, right = tree_digest(tree[1], _depth + 1), tree_digest(tree[2], _depth + 1)
        return hashlib.sha256(_FORK_DOMAIN + left + right).digest()
    if tag == _LABELED and size == 3 and isinstance(tree[1], bytes):
        return hashlib.sha256(_LABELED_DOMAIN + tree[1] + tree_digest(tree[2], _depth + 1)).digest()
    if tag == _LEAF and size == 2 and isinstance(tree[1], bytes):
        return hashlib.sha256(_LEAF_DOMAIN + tree[1]).digest()
    if tag == _PRUNED and size == 2 and isinstance(tree[1], bytes) and len(tree[1]) == 32:
        return bytes(tree[1])
    raise IcpCertificateError(f"malformed hash tree node (tag {tag!r}, {size} items)")


class Lookup(enum.Enum):
    """Outcome of a lookup, as the spec names them."""

    FOUND = "found"
    ABSENT = "absent"  # provably not in the tree
    UNKNOWN = "unknown"  # pruned away: may or may not be there
    ERROR = "error"  # the path ends on an inner node


class _Label(enum.Enum):
    LESS = "less"
    GREATER = "greater"
    ABSENT = "absent"
    UNKNOWN = "unknown"


def _find_label(tree: Any, label: bytes) -> Any:
    """The subtree under ``label`` among ``tree``'s labeled children, or a ``_Label``."""
    tag = tree[0]
    if tag == _LABELED:
        if label == tree[1]:
            return tree[2]
        return _Label.GREATER if label > tree[1] else _Label.LESS
    if tag == _FORK:
        left = _find_label(tree[1], label)
        if left is _Label.GREATER or left is _Label.UNKNOWN:
            right = _find_label(tree[2], label)
            if right is _Label.LESS:
                return _Label.ABSENT if left is _Label.GREATER else _Label.UNKNOWN
            return right
        return left
    if tag == _PRUNED:
        return _Label.UNKNOWN
    return _Label.ABSENT


def lookup_subtree(tree: Any, path: Sequence[bytes]) -> tuple[Lookup, Any]:
    """Follow ``path`` from ``tree``: ``(FOUND, subtree)`` or ``(ABSENT|UNKNOWN, None)``.

    ``tree`` must already have passed ``tree_digest`` (which checks its shape).
    """
    for label in path:
        found = _find_label(tree, label)
        if found is _Label.UNKNOWN:
            return Lookup.UNKNOWN, None
        if isinstance(found, _Label):
            return Lookup.ABSENT, None
        tree = found
    return Lookup.FOUND, tree


def lookup_path(tree: Any, path: Sequence[bytes]) -> tuple[Lookup, bytes | None]:
    """The spec's ``lookup_path``: ``(FOUND, leaf value)`` or ``(outcome, None)``."""
    outcome, subtree = lookup_subtree(tree, path)
    if outcome is not Lookup.FOUND:
        return outcome, None
    tag = subtree[0]
    if tag == _LEAF:
        return Lookup.FOUND, bytes(subtree[1])
    if tag == _EMPTY:
        return Lookup.ABSENT, None
    if tag == _PRUNED:
        return Lookup.UNKNOWN, None
    return Lookup.ERROR, None


def labeled_children(tree: Any) -> list[tuple[bytes, Any]]:
    """The ``(label, subtree)`` pairs directly under ``tree`` (forks flattened;
    pruned parts, whose labels are unknown, left out)."""
    tag = tree[0]
    if tag == _FORK:
        return labeled_children(tree[1]) + labeled_children(tree[2])
    if tag == _LABELED:
        return [(bytes(tree[1]), tree[2])]
    return []


# --------------------------------------------------------------------------- signatures


def bls_public_key_from_der(der: bytes) -> bytes:
    """The 96-byte compressed G2 point inside a DER-encoded IC BLS public key.

    Raises ``ValueError`` if ``der`` is not exactly such a key (133 bytes, fixed prefix).
    """
    if not isinstance(der, bytes) or len(der) != len(BLS_DER_PREFIX) + 96:
        raise ValueError("an IC BLS public key is 133 DER bytes")
    if not der.startswith(BLS_DER_PREFIX):
        raise ValueError("not a DER-encoded BLS12-381 G2 public key (wrong prefix)")
    return der[len(BLS_DER_PREFIX) :]


def bls_verify(signature: bytes, message: bytes, public_key: bytes) -> bool:
    """Check a BLS12-381 min-sig signature (G1, 48 bytes) on ``message`` under a G2
    public key (96 bytes, compressed), with the IC's hash-to-curve DST.

    False for anything that does not verify, including malformed or identity points,
    or points outside the prime-order subgroups.
    """
    if len(signature) != 48 or len(public_key) != 96:
        return False
    try:
        sig = G1Point.from_compressed_bytes(signature)  # checks curve and subgroup
        key = G2Point.from_compressed_bytes(public_key)
    except ValueError:
        return False
    if sig == G1Point.identity() or key == G2Point.identity():
        return False
    hashed = G1Point.hash_to_curve(message, BLS_DST)
    # e(sig, g2) == e(H(m), key)  <=>  e(sig, -g2) * e(H(m), key) == 1
    return bool(GT.pairing_check([sig, hashed], [-G2Point(), key]))


def ed25519_verify(der_public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Check an Ed25519 signature under a DER-encoded (RFC 8410) public key."""
    if len(der_public_key) != 44 or not der_public_key.startswith(ED25519_DER_PREFIX):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(der_public_key[12:]).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class Certificate:
    """A verified certificate: its tree may be trusted for ``canister_id``.

    ``subnet_id`` is the subnet that signed it (the root subnet when there was no
    delegation); ``time_ns`` its certified time in nanoseconds since the epoch.
    """

    tree: Any
    time_ns: int
    subnet_id: bytes
    delegated: bool

    def lookup(self, path: Sequence[bytes]) -> bytes | None:
        """The leaf at ``path``, or None when it is absent or pruned.

        Raises ``IcpCertificateError`` when the path ends on an inner node.
        """
        outcome, value = lookup_path(self.tree, path)
        if outcome is Lookup.ERROR:
            raise IcpCertificateError(f"certificate path {_show(path)} is not a leaf")
        return value

    def lookup_outcome(self, path: Sequence[bytes]) -> Lookup:
        """Whether ``path`` is found, absent, unknown (pruned) or not a leaf."""
        return lookup_path(self.tree, path)[0]

    def node_keys(self) -> dict[bytes, bytes]:
        """The signing subnet's node ids and their DER Ed25519 public keys, as certified
        at ``/subnet/<subnet_id>/node/<node_id>/public_key`` (empty if not in the tree)."""
        outcome, nodes = lookup_subtree(self.tree, [b"subnet", self.subnet_id, b"node"])
        if outcome is not Lookup.FOUND:
            return {}
        keys = {}
        for node_id, subtree in labeled_children(nodes):
            found, key = lookup_path(subtree, [b"public_key"])
            if found is Lookup.FOUND and key is not None:
                keys[node_id] = key
        return keys


@dataclass(frozen=True)
class _Unverified:
    tree: Any
    signature: bytes
    delegation: tuple[bytes, bytes] | None  # (subnet_id, certificate CBOR)


def _parse(data: bytes, what: str, error: type[IcpCertificateError]) -> _Unverified:
    try:
        cert = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several unrelated types on bad input
        raise error(f"{what} is not valid CBOR: {type(exc).__name__}") from exc
    if not isinstance(cert, dict) or "tree" not in cert or "signature" not in cert:
        raise error(f"{what} is not a map with a tree and a signature")
    if not isinstance(cert["signature"], bytes):
        raise error(f"{what} signature is not a blob")
    delegation = cert.get("delegation")
    pair = None
    if delegation is not None:
        if (
            not isinstance(delegation, dict)
            or not isinstance(delegation.get("subnet_id"), bytes)
            or not isinstance(delegation.get("certificate"), bytes)
        ):
            raise IcpDelegationInvalid(f"{what} delegation lacks subnet_id or certificate")
        pair = (delegation["subnet_id"], delegation["certificate"])
    return _Unverified(cert["tree"], cert["signature"], pair)


def _check_signature(cert: _Unverified, der_key: bytes, signer: str, what: str) -> bytes:
    """Verify ``cert``'s signature under ``der_key``; returns the root hash."""
    try:
        key = bls_public_key_from_der(der_key)
    except ValueError as exc:
        raise IcpSignatureInvalid(f"{signer} is not a BLS public key: {exc}") from exc
    root_hash = tree_digest(cert.tree)
    if not bls_verify(cert.signature, STATE_ROOT_DOMAIN + root_hash, key):
        raise IcpSignatureInvalid(f"{what} signature does not verify under {signer}")
    return root_hash


def _canister_ranges(parent: _Unverified, subnet_id: bytes, canister_id: bytes) -> Any:
    """The CBOR ranges that would hold ``canister_id`` in the delegation's tree."""
    outcome, shards = lookup_subtree(parent.tree, [b"canister_ranges", subnet_id])
    if outcome is Lookup.FOUND:
        # /canister_ranges/<subnet>/<shard>: each shard is named by its lowest canister
        # id, so the only shard that can hold the canister is the last one at or below it.
        below = sorted(label for label, _ in labeled_children(shards) if label <= canister_id)
        if not below:
            raise IcpCanisterNotInSubnet("no canister range shard of the subnet holds the canister")
        found, blob = lookup_path(shards, [below[-1]])
    else:
        found, blob = lookup_path(parent.tree, [b"subnet", subnet_id, b"canister_ranges"])
    if found is not Lookup.FOUND or blob is None:
        raise IcpCanisterNotInSubnet("the delegation lists no canister ranges for the subnet")
    try:
        return cbor2.loads(blob)
    except Exception as exc:  # cbor2 raises several unrelated types on bad input
        raise IcpDelegationInvalid("canister ranges are not valid CBOR") from exc


def _in_ranges(ranges: Any, canister_id: bytes) -> bool:
    if not isinstance(ranges, list):
        raise IcpDelegationInvalid("canister ranges are not a list")
    for pair in ranges:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(p, bytes) for p in pair)
        ):
            raise IcpDelegationInvalid("a canister range is not a pair of principals")
        if pair[0] <= canister_id <= pair[1]:
            return True
    return False


def _delegated_key(delegation: tuple[bytes, bytes], canister_id: bytes, root_key: bytes) -> bytes:
    """The subnet's DER public key, once its delegation has been verified for the canister."""
    subnet_id, data = delegation
    parent = _parse(data, "delegation certificate", IcpDelegationInvalid)
    if parent.delegation is not None:
        raise IcpDelegationInvalid("the delegation certificate has a delegation of its own")
    try:
        _check_signature(parent, root_key, "the root key", "delegation certificate")
    except IcpSignatureInvalid as exc:
        raise IcpDelegationInvalid(f"delegation not signed by the root key: {exc}") from exc
    except IcpCertificateError as exc:
        raise IcpDelegationInvalid(f"malformed delegation certificate: {exc}") from exc
    if not _in_ranges(_canister_ranges(parent, subnet_id, canister_id), canister_id):
        raise IcpCanisterNotInSubnet(
            f"canister {canister_id.hex()} is outside subnet {subnet_id.hex()}'s canister ranges"
        )
    found, key = lookup_path(parent.tree, [b"subnet", subnet_id, b"public_key"])
    if found is not Lookup.FOUND or key is None:
        raise IcpDelegationInvalid("the delegation does not publish the subnet's public key")
    return key


def verify_certificate(
    data: bytes,
    *,
    canister_id: bytes,
    root_key: bytes,
    max_age_seconds: float,
    now_ns: int | None = None,
) -> Certificate:
    """Verify a CBOR certificate for ``canister_id`` (raw principal bytes) and return it.

    Checks, in this order: the delegation if any (not nested, root-signed, canister in
    the subnet's ranges, subnet key published), the BLS signature over the tree's root
    hash under the root key or the delegated subnet key, then ``/time`` within
    ``max_age_seconds`` of ``now_ns`` (default: the clock) either way.

    Side effects: none. Raises ``IcpCertificateError`` or one of its subclasses:
    ``IcpSignatureInvalid``, ``IcpDelegationInvalid`` (``IcpCanisterNotInSubnet``),
    ``IcpCertificateStale``.
    """
    cert = _parse(data, "certificate", IcpCertificateError)
    if cert.delegation is None:
        key, signer, subnet_id = root_key, "the root key", self_authenticating_id(root_key)
    else:
        subnet_id = cert.delegation[0]
        key = _delegated_key(cert.delegation, canister_id, root_key)
        signer = f"subnet {subnet_id.hex()}'s key from the delegation"
    _check_signature(cert, key, signer, "certificate")
    found, raw_time = lookup_path(cert.tree, [b"time"])
    if found is not Lookup.FOUND or raw_time is None:
        raise IcpCertificateError("certificate has no /time")
    time_ns = leb128_nat(raw_time)
    check_fresh(time_ns, max_age_seconds=max_age_seconds, now_ns=now_ns, what="certificate time")
    return Certificate(cert.tree, time_ns, subnet_id, cert.delegation is not None)


def check_fresh(
    time_ns: int, *, max_age_seconds: float, now_ns: int | None = None, what: str
) -> None:
    """Raise ``IcpCertificateStale`` if ``time_ns`` is more than ``max_age_seconds``
    before or after ``now_ns`` (default: the clock)."""
    now = time.time_ns() if now_ns is None else now_ns
    age = (now - time_ns) / _NS
    if abs(age) > max_age_seconds:
        direction = "old" if age > 0 else "in the future"
        raise IcpCertificateStale(
            f"{what} is {abs(age):.0f}s {direction}; at most {max_age_seconds:.0f}s allowed",
            age_seconds=age,
        )


# --------------------------------------------------------------------------- queries


def query_signable(answer: Mapping[str, Any], request_id: bytes, timestamp: int) -> bytes:
    """What each node signs for a query answer (spec, "Query call signatures")."""
    if answer.get("status") == "replied":
        content: dict[str, Any] = {"status": "replied", "reply": answer.get("reply")}
    else:
        content = {
            "status": "rejected",
            "reject_code": answer.get("reject_code"),
            "reject_message": answer.get("reject_message"),
        }
        if answer.get("error_code") is not None:
            content["error_code"] = answer["error_code"]
    content |= {"timestamp": timestamp, "request_id": request_id}
    try:
        return RESPONSE_DOMAIN + hash_of_map(content)
    except TypeError as exc:
        raise IcpSignatureInvalid(f"query answer cannot be hashed for signing: {exc}") from exc


def verify_query_signatures(
    answer: Mapping[str, Any],
    *,
    request_id: bytes,
    node_keys: Mapping[bytes, bytes],
    max_age_seconds: float,
    now_ns: int | None = None,
) -> None:
    """Check every node signature on a query answer (replied or rejected).

    ``node_keys`` are the certified keys of the canister's subnet (``Certificate.node_keys``).
    There must be at least one signature and no more than there are nodes; each must be
    by one of those nodes, be fresh and verify.

    Raises ``IcpSignatureInvalid`` or ``IcpCertificateStale``.
    """
    signatures = answer.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise IcpSignatureInvalid("query answer carries no node signature")
    if len(signatures) > len(node_keys):
        raise IcpSignatureInvalid(
            f"query answer carries {len(signatures)} signatures for {len(node_keys)} nodes"
        )
    for entry in signatures:
        if not isinstance(entry, dict):
            raise IcpSignatureInvalid("a query signature is not a map")
        node_id, timestamp, signature = (
            entry.get("identity"),
            entry.get("timestamp"),
            entry.get("signature"),
        )
        if (
            not isinstance(node_id, bytes)
            or not isinstance(signature, bytes)
            or not isinstance(timestamp, int)
            or isinstance(timestamp, bool)
            or timestamp < 0
        ):
            raise IcpSignatureInvalid("a query signature lacks identity, timestamp or signature")
        key = node_keys.get(node_id)
        if key is None:
            raise IcpSignatureInvalid(f"query signed by node {node_id.hex()}, not in the subnet")
        check_fresh(timestamp, max_age_seconds=max_age_seconds, now_ns=now_ns, what="query time")
        if not ed25519_verify(key, signature, query_signable(answer, request_id, timestamp)):
            raise IcpSignatureInvalid(f"query signature of node {node_id.hex()} does not verify")


# --------------------------------------------------------------------------- settings


def configured_root_key() -> bytes:
    """The root key to verify against: ``settings.ICP_ROOT_KEY`` (hex of the DER key)
    when set, else the pinned mainnet key ``IC_ROOT_KEY``.

    Raises ``ValueError`` if the setting is not a DER-encoded BLS public key.
    """
    text = str(settings.ICP_ROOT_KEY or "").strip()
    if not text:
        return IC_ROOT_KEY
    try:
        der = bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError("ICP_ROOT_KEY must be the hex of a DER-encoded public key") from exc
    bls_public_key_from_der(der)
    return der


def configured_max_age() -> float:
    """``settings.ICP_CERTIFICATE_MAX_AGE`` seconds."""
    return float(settings.ICP_CERTIFICATE_MAX_AGE)


def _show(path: Sequence[bytes]) -> str:
    return "/" + "/".join(p.decode("ascii", "replace") if p.isascii() else p.hex() for p in path)
