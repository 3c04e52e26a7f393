"""A stand-in Internet Identity: canister-signed delegations, and the window a browser opens.

Internet Identity (II) is a canister. When a site signs a user in, II's window receives the
site's *session public key* and answers with a delegation from the user's per-site key to
it, signed by II with a **canister signature**: a certificate of II's subnet, certifying
II's ``certified_data``, plus a hash tree holding ``/sig/<sha256(seed)>/<sha256(message)>``.

``InternetIdentityIssuer`` makes those delegations for real, on top of
``testing.icp_certification`` (the BLS root key and subnet that also sign the IC test
server's answers), written again here from the interface specification ("Canister
signatures") and II's source (``delegation.rs``, ``signature_map``), independently of
``chains.icp``: the DER canister signature key, the seed, the delegation's signable and the
signature tree. ``IiMischief`` makes it wrong one way at a time.

``InternetIdentityServer`` serves the window: ``GET /`` is a page speaking the same
``postMessage`` protocol as identity.ic0.app (``authorize-ready`` to the opener,
``authorize-client`` in, ``authorize-client-success`` with the delegations out, after the
person presses "Continue"), and ``POST /delegate`` signs the delegation. Point
``II_PROVIDER_URL`` at ``server.url`` and ``ICP_ROOT_KEY`` at its root key
(``client_settings()``).

``SessionKey`` is the browser's side for tests without a browser: an Ed25519 or ECDSA P-256
key that signs like ``@dfinity/identity`` does (ECDSA: SHA-256, 64-byte ``r ‖ s``).

Not emulated: passkeys and anchors' devices (every anchor number is accepted),
alternative derivation origins (``derivationOrigin`` is ignored: the seed uses the
opener's origin), II's own ``prepare_delegation``/``get_delegation`` canister API.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from testing.http_server import LocalHttpServer
from testing.icp_certification import (
    FORK,
    LABELED,
    LEAF,
    PRUNED,
    BlsKey,
    Issuer,
    Mischief,
    hash_of_map,
    self_authenticating_id,
    tree_digest,
)
from testing.icp_server import ALL_CANISTERS, principal_from_text, principal_to_text

__all__ = [
    "II_CANISTER_ID",
    "IiMischief",
    "InternetIdentityIssuer",
    "InternetIdentityServer",
    "SessionKey",
    "canister_signature_public_key",
    "extend_chain",
]

II_CANISTER_ID = "rdmx6-jaaaa-aaaaa-aaadq-cai"
_DELEGATION_DOMAIN = bytes([26]) + b"ic-request-auth-delegation"
_TAG = 55799
_NS = 1_000_000_000
# II's default and maximum delegation lifetimes (internet_identity_interface: 30 min, 30 days).
_DEFAULT_TTL_NS = 30 * 60 * _NS
_MAX_TTL_NS = 30 * 24 * 3600 * _NS


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def canister_signature_public_key(canister_id: bytes, seed: bytes) -> bytes:
    """DER ``SubjectPublicKeyInfo`` of a canister signature key (OID 1.3.6.1.4.1.56387.1.2,
    BIT STRING ``len(canister_id) ‖ canister_id ‖ seed``)."""
    algorithm = _der(0x30, _der(0x06, bytes.fromhex("2b0601040183b8430102")))
    key = bytes([len(canister_id)]) + canister_id + seed
    return _der(0x30, algorithm + _der(0x03, b"\x00" + key))


@dataclass
class IiMischief:
    """What the stand-in II gets wrong on purpose (all off by default).

    ``signing_canister``: another canister (text) signs, under a key naming itself: a valid
    canister signature, but not Internet Identity's. ``certify_canister``: the certificate
    certifies that other canister's data while the key names II. ``tamper_expiration``:
    the delegation's expiration is changed after II signed it. ``wrong_message``: II signs
    another delegation than the one it returns. ``targets``: canister ids (text) the
    delegation is restricted to. ``certificate``: mischief of the certificate itself
    (``testing.icp_certification.Mischief``: stale, tampered, forged subnet delegation).
    """

    signing_canister: str | None = None
    certify_canister: str | None = None
    tamper_expiration: bool = False
    wrong_message: bool = False
    targets: tuple[str, ...] | None = None
    certificate: Mischief = dataclasses.field(default_factory=Mischief)


class InternetIdentityIssuer:
    """Signs delegations as the II canister ``canister_id`` would, on a subnet of ``root``.

    ``delegated`` (default) puts II on an application subnet with a root-signed
    delegation listing ``canister_ranges`` (textual pairs; default every canister), as on
    mainnet. One random salt per issuer, so principals differ between runs.
    """

    def __init__(
        self,
        *,
        root: BlsKey,
        canister_id: str = II_CANISTER_ID,
        delegated: bool = True,
        canister_ranges: list[tuple[str, str]] | None = None,
    ) -> None:
        ranges = [ALL_CANISTERS]
        if canister_ranges is not None:
            ranges = [(_raw(lo), _raw(hi)) for lo, hi in canister_ranges]
        self.root = root
        self.canister_id = canister_id
        self.subnet = Issuer(root=root, delegated=delegated, canister_ranges=ranges)
        self._salt = secrets.token_bytes(32)

    def seed(self, anchor: int, origin: str) -> bytes:
        """II's seed: a hash of its salt, the anchor number and the front-end origin
        (each length-prefixed), so each site sees another principal for one person."""
        parts = [self._salt, str(anchor).encode(), origin.encode()]
        return hashlib.sha256(b"".join(bytes([len(p)]) + p for p in parts)).digest()

    def public_key(self, anchor: int, origin: str, *, canister_id: str | None = None) -> bytes:
        """The user's DER canister signature key for ``origin``."""
        canister = _raw(canister_id or self.canister_id)
        return canister_signature_public_key(canister, self.seed(anchor, origin))

    def principal(self, anchor: int, origin: str) -> str:
        """The principal ``origin`` sees for ``anchor`` (self-authenticating id of the key)."""
        return principal_to_text(self_authenticating_id(self.public_key(anchor, origin)))

    def delegate(
        self,
        *,
        session_public_key: bytes,
        anchor: int,
        origin: str,
        max_time_to_live_ns: int | None = None,
        expiration_ns: int | None = None,
        mischief: IiMischief | None = None,
    ) -> dict[str, Any]:
        """A delegation chain from the user's key for ``origin`` to ``session_public_key``,
        in agent-js's JSON form (``DelegationChain.toJSON()``: hex strings).

        ``expiration_ns`` (default: now + ``max_time_to_live_ns``, II's default 30 minutes,
        at most 30 days) may be in the past, for tests of an expired delegation.
        """
        mischief = mischief or IiMischief()
        signer = mischief.signing_canister or self.canister_id
        seed = self.seed(anchor, origin)
        public_key = canister_signature_public_key(_raw(signer), seed)
        if expiration_ns is None:
            ttl = min(max_time_to_live_ns or _DEFAULT_TTL_NS, _MAX_TTL_NS)
            expiration_ns = time.time_ns() + ttl
        delegation: dict[str, Any] = {"pubkey": session_public_key, "expiration": expiration_ns}
        if mischief.targets is not None:
            delegation["targets"] = [_raw(t) for t in mischief.targets]
        signed = dict(delegation)
        if mischief.wrong_message:
            signed["expiration"] = expiration_ns + 1
        message = _DELEGATION_DOMAIN + hash_of_map(signed)
        signature = self._canister_signature(
            signer=mischief.certify_canister or signer,
            seed=seed,
            message=message,
            mischief=mischief.certificate,
        )
        if mischief.tamper_expiration:
            delegation["expiration"] = expiration_ns + 3600 * _NS
        body: dict[str, Any] = {
            "expiration": format(delegation["expiration"], "x"),
            "pubkey": session_public_key.hex(),
        }
        if "targets" in delegation:
            body["targets"] = [t.hex() for t in delegation["targets"]]
        return {
            "delegations": [{"delegation": body, "signature": signature.hex()}],
            "publicKey": public_key.hex(),
        }

    def _canister_signature(
        self, *, signer: str, seed: bytes, message: bytes, mischief: Mischief
    ) -> bytes:
        """CBOR ``{certificate, tree}``: II's signature tree (``sig`` beside its pruned
        asset hashes, as II certifies both) and a certificate of ``signer``'s
        ``certified_data`` = the tree's root hash."""
        leaf = [
            LABELED,
            hashlib.sha256(seed).digest(),
            [LABELED, hashlib.sha256(message).digest(), [LEAF, b""]],
        ]
        # II's signature map holds other users' signatures too: a pruned sibling.
        sigs = [FORK, [PRUNED, hashlib.sha256(b"other signatures").digest()], leaf]
        tree = [
            FORK,
            [PRUNED, hashlib.sha256(b"http assets").digest()],
            [LABELED, b"sig", sigs],
        ]
        certified = {b"canister": {_raw(signer): {b"certified_data": tree_digest(tree)}}}
        certificate = self.subnet.certificate(certified, mischief)
        return cbor2.dumps(cbor2.CBORTag(_TAG, {"certificate": certificate, "tree": tree}))


def _raw(text: str) -> bytes:
    raw = principal_from_text(text)
    if raw is None:
        raise ValueError(f"not a canonical principal: {text!r}")
    return raw


# --------------------------------------------------------------------------- session keys


class SessionKey:
    """A browser's session key, for tests that play the browser (``kind`` ``"ecdsa"``, the
    auth-client's default, or ``"ed25519"``)."""

    def __init__(self, kind: str = "ecdsa") -> None:
        if kind not in ("ecdsa", "ed25519"):
            raise ValueError("kind is 'ecdsa' or 'ed25519'")
        self.kind = kind
        self._key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey = (
            ec.generate_private_key(ec.SECP256R1())
            if kind == "ecdsa"
            else Ed25519PrivateKey.generate()
        )
        self.der = self._key.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        """Sign as ``@dfinity/identity`` does: Ed25519 raw; ECDSA over SHA-256 as ``r ‖ s``."""
        if isinstance(self._key, Ed25519PrivateKey):
            return self._key.sign(message)
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def extend_chain(
    chain: dict[str, Any], *, signer: SessionKey, to: bytes, expiration_ns: int
) -> dict[str, Any]:
    """``chain`` (JSON form) with one more delegation, from ``signer`` (the chain's last
    delegated key) to the DER key ``to``, as ``DelegationChain.create(..., {previous})``."""
    message = _DELEGATION_DOMAIN + hash_of_map({"pubkey": to, "expiration": expiration_ns})
    delegation = {"expiration": format(expiration_ns, "x"), "pubkey": to.hex()}
    signed = {"delegation": delegation, "signature": signer.sign(message).hex()}
    return {**chain, "delegations": [*chain["delegations"], signed]}


# --------------------------------------------------------------------------- the window

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Internet Identity (test stand-in)</title></head>
<body>
<h1>Internet Identity (test stand-in)</h1>
<p id="status">Waiting for the site…</p>
<button type="button" id="continue" disabled>Continue with identity ANCHOR</button>
<script>
const hex = (bytes) =>
  [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const bytes = (text) => new Uint8Array(text.match(/../g).map((h) => parseInt(h, 16)));
let request = null;
window.addEventListener("message", (event) => {
  if (event.data?.kind !== "authorize-client") return;
  request = { origin: event.origin, source: event.source, data: event.data };
  document.getElementById("status").textContent = "Sign in to " + event.origin + "?";
  document.getElementById("continue").disabled = false;
});
document.getElementById("continue").addEventListener("click", async () => {
  const { origin, source, data } = request;
  const response = await fetch("/delegate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      origin,
      session_public_key: hex(data.sessionPublicKey),
      max_time_to_live: data.maxTimeToLive === undefined ? null : data.maxTimeToLive.toString(),
    }),
  });
  const chain = await response.json();
  if (!response.ok) {
    source.postMessage({ kind: "authorize-client-failure", text: chain.error }, origin);
    return;
  }
  source.postMessage({
    kind: "authorize-client-success",
    delegations: chain.delegations.map((d) => ({
      delegation: {
        pubkey: bytes(d.delegation.pubkey),
        expiration: BigInt("0x" + d.delegation.expiration),
      },
      signature: bytes(d.signature),
    })),
    userPublicKey: bytes(chain.publicKey),
    authnMethod: "passkey",
  }, origin);
});
window.opener.postMessage({ kind: "authorize-ready" }, "*");
</script>
</body></html>
"""


@dataclass(frozen=True)
class DelegationRequest:
    """One ``POST /delegate`` the window made: for which origin, session key and lifetime."""

    origin: str
    session_public_key: bytes
    max_time_to_live_ns: int | None
    principal: str


class InternetIdentityServer(LocalHttpServer[DelegationRequest]):
    """The stand-in II window on 127.0.0.1 (``url`` is ``II_PROVIDER_URL``), signing for
    ``anchor`` with an ``InternetIdentityIssuer`` on ``root`` (give it the IC test
    server's root key, so one ``ICP_ROOT_KEY`` verifies both)."""

    def __init__(self, *, root: BlsKey, anchor: int = 10000, **issuer_options: Any) -> None:
        super().__init__()
        self.issuer = InternetIdentityIssuer(root=root, **issuer_options)
        self.anchor = anchor
        self.mischief = IiMischief()

    def client_settings(self) -> dict[str, str]:
        """Settings that point the site at this window and its root key."""
        return {"II_PROVIDER_URL": self.url, "ICP_ROOT_KEY": self.root_key_hex}

    @property
    def root_key_hex(self) -> str:
        return self.issuer.root.der.hex()

    def principal(self, origin: str) -> str:
        """The principal ``origin`` gets for this server's anchor."""
        return self.issuer.principal(self.anchor, origin)

    def handle_get(self, h: BaseHTTPRequestHandler) -> None:
        page = _PAGE.replace("ANCHOR", str(self.anchor)).encode()
        self._send(h, 200, page, "text/html; charset=utf-8")

    def handle_post(self, h: BaseHTTPRequestHandler) -> None:
        if h.path != "/delegate":
            self._send(h, 404, b'{"error": "not found"}', "application/json")
            return
        length = int(h.headers.get("Content-Length") or 0)
        try:
            data = json.loads(h.rfile.read(length))
            key = bytes.fromhex(data["session_public_key"])
            ttl = int(data["max_time_to_live"]) if data.get("max_time_to_live") else None
            origin = str(data["origin"])
        except (ValueError, KeyError, TypeError) as exc:
            body = json.dumps({"error": f"bad request: {exc}"}).encode()
            self._send(h, 400, body, "application/json")
            return
        chain = self.issuer.delegate(
            session_public_key=key,
            anchor=self.anchor,
            origin=origin,
            max_time_to_live_ns=ttl,
            mischief=self.mischief,
        )
        self._record(DelegationRequest(origin, key, ttl, self.principal(origin)))
        self._send(h, 200, json.dumps(chain).encode(), "application/json")
