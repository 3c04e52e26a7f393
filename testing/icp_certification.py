"""The IC's side of certification, for ``testing.icp_server``: keys, trees, signatures.

Certificates are signed for real, so every ICP test runs the client's verification:

* a BLS12-381 root key (min-sig: G2 public key, G1 signatures) made per server,
  from ``secrets`` unless a test passes a secret; never a production key;
* optionally an application subnet with its own BLS key, whose certificates carry a
  delegation: a certificate of the root subnet publishing the subnet's public key and
  canister ranges (sharded ``/canister_ranges/<subnet>/<shard>`` or the older
  ``/subnet/<subnet>/canister_ranges``);
* Ed25519 node keys, certified at ``/subnet/<subnet>/node/<node>/public_key``, that
  sign query answers.

Independent of ``chains.icp`` on purpose: the BLS signatures are made with ``py_ecc``
(pure Python) while the client verifies with arkworks, and the hash tree, request id
and signable hashing are written here again from the interface specification, so a
mistake made the same way on both sides is less likely. Ed25519 uses ``cryptography``
on both sides (no second implementation is installed).

``Mischief`` makes the issuer wrong on purpose, one way at a time, for the tests of
each refusal.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1, compress_G2
from py_ecc.optimized_bls12_381 import G2, curve_order, multiply

BLS_DER_PREFIX = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
)
BLS_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
_TAG = 55799


def _domain(name: bytes) -> bytes:
    return bytes([len(name)]) + name


# --------------------------------------------------------------------------- hashing


def uleb128(value: int) -> bytes:
    """Unsigned LEB128 (shortest form)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _hash_value(value: Any) -> bytes:
    if isinstance(value, bytes):
        return hashlib.sha256(value).digest()
    if isinstance(value, str):
        return hashlib.sha256(value.encode("utf-8")).digest()
    if isinstance(value, bool):
        raise TypeError("booleans have no representation-independent hash")
    if isinstance(value, int):
        if value < 0:
            raise TypeError("negative integers are not used in requests")
        return hashlib.sha256(uleb128(value)).digest()
    if isinstance(value, list):
        return hashlib.sha256(b"".join(_hash_value(v) for v in value)).digest()
    if isinstance(value, dict):
        return hash_of_map(value)
    raise TypeError(f"cannot hash {type(value).__name__}")


def hash_of_map(m: dict[str, Any]) -> bytes:
    """Representation-independent hash of a map (interface spec), i.e. a request id."""
    parts = sorted(hashlib.sha256(k.encode()).digest() + _hash_value(v) for k, v in m.items())
    return hashlib.sha256(b"".join(parts)).digest()


# --------------------------------------------------------------------------- hash trees

EMPTY, FORK, LABELED, LEAF, PRUNED = 0, 1, 2, 3, 4


def tree_digest(tree: list[Any]) -> bytes:
    """Root hash of a hash tree (spec: "reconstruct"), independent of the client's."""
    tag = tree[0]
    if tag == EMPTY:
        return hashlib.sha256(_domain(b"ic-hashtree-empty")).digest()
    if tag == FORK:
        body = tree_digest(tree[1]) + tree_digest(tree[2])
        return hashlib.sha256(_domain(b"ic-hashtree-fork") + body).digest()
    if tag == LABELED:
        body = tree[1] + tree_digest(tree[2])
        return hashlib.sha256(_domain(b"ic-hashtree-labeled") + body).digest()
    if tag == LEAF:
        return hashlib.sha256(_domain(b"ic-hashtree-leaf") + tree[1]).digest()
    if tag == PRUNED:
        return bytes(tree[1])
    raise ValueError(f"unknown hash tree tag {tag}")


def fork_all(nodes: list[Any]) -> list[Any]:
    """A balanced fork tree over ``nodes`` in order (Empty for none)."""
    if not nodes:
        return [EMPTY]
    while len(nodes) > 1:
        paired = [[FORK, nodes[i], nodes[i + 1]] for i in range(0, len(nodes) - 1, 2)]
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
    return nodes[0]


def labeled_tree(children: dict[bytes, Any]) -> list[Any]:
    """Fork tree of labeled subtrees, labels in ascending order as the spec requires.

    A ``bytes`` child becomes a leaf; a dict a labeled tree of its own; a list is
    taken as an already built tree.
    """

    def node(value: Any) -> Any:
        if isinstance(value, bytes):
            return [LEAF, value]
        if isinstance(value, dict):
            return labeled_tree(value)
        return value

    return fork_all([[LABELED, label, node(children[label])] for label in sorted(children)])


def _flip_first_leaf(tree: list[Any]) -> bool:
    """Flip the last bit of the first leaf found (depth first). True if one was found."""
    if tree[0] == LEAF and tree[1]:
        tree[1] = tree[1][:-1] + bytes([tree[1][-1] ^ 0x01])
        return True
    if tree[0] == FORK:
        return _flip_first_leaf(tree[1]) or _flip_first_leaf(tree[2])
    if tree[0] == LABELED:
        return _flip_first_leaf(tree[2])
    return False


# --------------------------------------------------------------------------- keys


def self_authenticating_id(der: bytes) -> bytes:
    """SHA-224 of a DER public key, then 0x02: the principal of that key."""
    return hashlib.sha224(der).digest() + b"\x02"


class BlsKey:
    """A BLS12-381 min-sig key pair as the IC uses for subnets (test use only)."""

    def __init__(self, secret: int | None = None) -> None:
        """``secret`` in [1, r); a random one when None."""
        self.secret = secret if secret is not None else secrets.randbelow(curve_order - 1) + 1
        if not 0 < self.secret < curve_order:
            raise ValueError("a BLS secret key is in [1, r)")
        x, y = compress_G2(multiply(G2, self.secret))
        self.public_key = x.to_bytes(48, "big") + y.to_bytes(48, "big")
        self.der = BLS_DER_PREFIX + self.public_key

    def sign(self, message: bytes) -> bytes:
        """The 48-byte compressed G1 signature of ``message`` (py_ecc, IC's DST)."""
        # py_ecc annotates the hash function's parameter as a hash object; it calls it.
        hashed = hash_to_G1(message, BLS_DST, hashlib.sha256)  # type: ignore[arg-type]
        point = multiply(hashed, self.secret)
        return compress_G1(point).to_bytes(48, "big")


class NodeKey:
    """An Ed25519 node key; the node id is the key's self-authenticating principal."""

    def __init__(self) -> None:
        """A fresh random key."""
        self._key = Ed25519PrivateKey.generate()
        public = self._key.public_key()
        self.der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self.node_id = self_authenticating_id(self.der)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)


# --------------------------------------------------------------------------- issuer


@dataclass
class Mischief:
    """What the issuer gets wrong on purpose (all off by default).

    ``clock_offset_seconds``: certificate times and query signature timestamps are
    shifted (stale or from the future). ``tamper_leaf``: a leaf byte is flipped after
    signing (certificates), the reply after signing (queries). ``forge_delegation``:
    the delegation is signed by the subnet itself, not the root. ``wrong_subnet_key``:
    the delegation publishes another key than the one the subnet signs with.
    ``nested_delegation``: the delegation certificate has a delegation itself.
    ``query_signatures``: ``"missing"``, ``"invalid"`` (another message signed) or
    ``"unknown_node"`` (signed by a key that is not in the subnet).
    """

    clock_offset_seconds: float = 0.0
    tamper_leaf: bool = False
    forge_delegation: bool = False
    wrong_subnet_key: bool = False
    nested_delegation: bool = False
    query_signatures: str | None = None


class Issuer:
    """Signs the certificates and query answers of one subnet, as the IC would.

    ``delegated`` False: the canisters live on the root subnet and certificates are
    signed by the root key itself. True: they live on an application subnet whose
    certificates carry a root-signed delegation listing ``canister_ranges``
    (raw principal pairs) in ``ranges_format`` ``"sharded"`` or ``"subnet"``.
    """

    def __init__(
        self,
        *,
        root: BlsKey,
        delegated: bool,
        canister_ranges: list[tuple[bytes, bytes]],
        ranges_format: str = "sharded",
        nodes: int = 4,
    ) -> None:
        """Make the subnet's keys (no I/O)."""
        if ranges_format not in ("sharded", "subnet"):
            raise ValueError("ranges_format is 'sharded' or 'subnet'")
        self.root = root
        self.root_subnet_id = self_authenticating_id(root.der)
        self.delegated = delegated
        self.subnet_key = BlsKey() if delegated else root
        self.subnet_id = self_authenticating_id(self.subnet_key.der)
        self.canister_ranges = list(canister_ranges)
        self.ranges_format = ranges_format
        self.nodes = [NodeKey() for _ in range(nodes)]
        self._stranger = NodeKey()

    def now_ns(self, mischief: Mischief) -> int:
        """The issuer's clock (shifted by the mischief's offset)."""
        return time.time_ns() + int(mischief.clock_offset_seconds * 1_000_000_000)

    def subnet_tree(self) -> dict[bytes, Any]:
        """``/subnet`` as a replica serves it to a canister read_state: the serving
        subnet's public key and node keys (and its ranges on the root subnet)."""
        own: dict[bytes, Any] = {
            b"public_key": self.subnet_key.der,
            b"node": {n.node_id: {b"public_key": n.der} for n in self.nodes},
        }
        if not self.delegated:
            own[b"canister_ranges"] = self._ranges_blob(self.canister_ranges)
        return {self.subnet_id: own}

    def certificate(self, children: dict[bytes, Any], mischief: Mischief) -> bytes:
        """A CBOR certificate over ``children`` plus ``/time`` (and a pruned sibling)."""
        tree = [
            FORK,
            [PRUNED, hashlib.sha256(b"pruned state").digest()],
            labeled_tree({**children, b"time": uleb128(self.now_ns(mischief))}),
        ]
        signature = self.subnet_key.sign(_domain(b"ic-state-root") + tree_digest(tree))
        if mischief.tamper_leaf:
            _flip_first_leaf(tree)
        cert: dict[str, Any] = {"tree": tree, "signature": signature}
        if self.delegated:
            cert["delegation"] = {
                "subnet_id": self.subnet_id,
                "certificate": self._delegation(mischief),
            }
        return cbor2.dumps(cbor2.CBORTag(_TAG, cert))

    def _ranges_blob(self, ranges: list[tuple[bytes, bytes]]) -> bytes:
        return cbor2.dumps(cbor2.CBORTag(_TAG, [[lo, hi] for lo, hi in ranges]))

    def _delegation(self, mischief: Mischief) -> bytes:
        published = BlsKey().der if mischief.wrong_subnet_key else self.subnet_key.der
        subnet: dict[bytes, Any] = {b"public_key": published}
        children: dict[bytes, Any] = {b"subnet": {self.subnet_id: subnet}}
        if self.ranges_format == "subnet":
            subnet[b"canister_ranges"] = self._ranges_blob(self.canister_ranges)
        else:
            # One shard per range, named by its lowest canister id, as the NNS shards them.
            shards = {lo: self._ranges_blob([(lo, hi)]) for lo, hi in self.canister_ranges}
            children[b"canister_ranges"] = {self.subnet_id: shards}
        # The root subnet certified this a while ago; the client must not mind its age.
        children[b"time"] = uleb128(time.time_ns() - 600 * 1_000_000_000)
        tree = [FORK, [PRUNED, hashlib.sha256(b"other subnets").digest()], labeled_tree(children)]
        signer = self.subnet_key if mischief.forge_delegation else self.root
        cert: dict[str, Any] = {
            "tree": tree,
            "signature": signer.sign(_domain(b"ic-state-root") + tree_digest(tree)),
        }
        if mischief.nested_delegation:
            inner = cbor2.dumps(dict(cert))
            cert["delegation"] = {"subnet_id": self.subnet_id, "certificate": inner}
        return cbor2.dumps(cbor2.CBORTag(_TAG, cert))

    def sign_query(
        self, answer: dict[str, Any], request_id: bytes, mischief: Mischief
    ) -> list[Any]:
        """The ``signatures`` of a query answer (spec: "Query call signatures")."""
        if mischief.query_signatures == "missing":
            return []
        timestamp = self.now_ns(mischief)
        signable = {k: v for k, v in answer.items() if k != "signatures"}
        signable |= {"timestamp": timestamp, "request_id": request_id}
        message = _domain(b"ic-response") + hash_of_map(signable)
        node = self._stranger if mischief.query_signatures == "unknown_node" else self.nodes[0]
        if mischief.query_signatures == "invalid":
            message += b"!"
        return [{"timestamp": timestamp, "signature": node.sign(message), "identity": node.node_id}]
