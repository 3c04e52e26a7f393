"""A local Web Push endpoint that checks what a real push service and browser would: the
VAPID header (RFC 8292: an ES256 JWT whose `aud` is this endpoint's origin, `exp` within
24 hours and a `sub` contact, verified with the `k` public key) and the payload, decrypted
as the browser does (RFC 8291 / RFC 8188 aes128gcm) with the subscription's own keys.

Written here from the RFCs with `cryptography` only, independent of pywebpush/http_ece.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


@dataclass
class Browser:
    """A browser's side of one subscription: its P-256 key pair and auth secret."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def keys(self) -> dict[str, str]:
        return {"p256dh": b64url(self.public), "auth": b64url(self.auth)}

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 section 3.4 and RFC 8188: one aes128gcm record."""
        salt, record_size, id_len = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        server_public = body[21 : 21 + id_len]
        ciphertext = body[21 + id_len :]
        assert record_size >= 18 and len(ciphertext) <= record_size
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), server_public)
        shared = self.key.exchange(ec.ECDH(), peer)
        prk_key = _hmac(self.auth, shared)
        ikm = _hmac(prk_key, b"WebPush: info\x00" + self.public + server_public + b"\x01")
        prk = _hmac(salt, ikm)
        cek = _hmac(prk, b"Content-Encoding: aes128gcm\x00\x01")[:16]
        nonce = _hmac(prk, b"Content-Encoding: nonce\x00\x01")[:12]
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        stripped = padded.rstrip(b"\x00")
        assert stripped.endswith(b"\x02"), "the last record ends with delimiter 2"
        return stripped[:-1]


def verify_vapid(header: str, audience: str) -> dict:
    """The JWT claims of a `vapid t=…, k=…` Authorization header, once its ES256 signature
    checks out with `k`; raises AssertionError otherwise."""
    assert header.startswith("vapid "), header
    parts = dict(p.strip().split("=", 1) for p in header[len("vapid ") :].split(","))
    token, key = parts["t"], parts["k"]
    signing_input, _, signature = token.rpartition(".")
    raw = unb64url(signature)
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    head = json.loads(unb64url(signing_input.split(".")[0]))
    claims = json.loads(unb64url(signing_input.split(".")[1]))
    assert head["alg"] == "ES256"
    assert claims["aud"] == audience, (claims["aud"], audience)
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https:", "http:"))
    return {"claims": claims, "key": key}


class PushService:
    """Subscriptions at http://127.0.0.1:PORT/push/<n>; each accepted push is decrypted and
    kept in `received` (claims, VAPID key, headers, plaintext). `gone` endpoints answer 410."""

    def __init__(self):
        self.browsers: dict[str, Browser] = {}
        self.received: list[dict] = []
        self.gone: set[str] = set()
        self.errors: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path
                try:
                    if path in service.gone:
                        self.send_response(410)
                        self.end_headers()
                        return
                    assert self.headers["Content-Encoding"] == "aes128gcm"
                    assert int(self.headers["TTL"]) > 0
                    vapid = verify_vapid(self.headers["Authorization"], service.origin)
                    plain = service.browsers[path].decrypt(body)
                    service.received.append({**vapid, "path": path, "payload": json.loads(plain)})
                    self.send_response(201)
                except Exception as exc:  # a refused push: the test reads why
                    service.errors.append(f"{type(exc).__name__}: {exc}")
                    self.send_response(400)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PushService:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def subscribe(self) -> dict:
        """A new browser subscription: {"endpoint", "keys": {"p256dh", "auth"}}."""
        path = f"/push/{len(self.browsers) + 1}"
        browser = Browser()
        self.browsers[path] = browser
        return {"endpoint": self.origin + path, "keys": browser.keys()}
