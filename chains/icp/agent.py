"""Internet Computer (ICP) agent: the HTTP transport under the canister APIs.

Speaks the IC HTTP interface v2 (``/api/v2/canister/<id>/query|call|read_state``)
with an anonymous identity. Candid encoding and decoding use ``ic.candid`` from
ic-py 1.0.1. Request ids, certificate and signature checks are ``chains.icp.certificate``.
The HTTP transport, envelopes, status handling and polling are done here because
ic-py's own ``Agent``/``Client`` are unsafe to use in a web application (see
``docs/icp.md``):

* ``ic.client.Client`` never sets a timeout of its own, ignores every HTTP
  status code (a 5xx HTML page is handed to the CBOR decoder) and ignores the
  body of a 200 answer to ``/call`` (a rejection by ``canister_inspect_message``).
* ``ic.agent.Agent.query_raw`` *returns* the reject message string of a
  rejected query instead of raising, so a rejection looks like a reply.
* ``ic.agent.Agent.poll`` waits forever by default and raises bare
  ``Exception``.
* ``ic.agent.sign_request`` puts ``sender_pubkey: null, sender_sig: null`` in
  anonymous envelopes; the interface spec says these fields must be omitted.
* ic-py verifies no certificate and no query signature.

Every answer is verified before it is used (``chains.icp.certificate``):

* each ``read_state`` certificate (the outcome of an update call): BLS signature
  under the root key or a subnet delegation checked for the canister, and its time;
* each query answer: the node signatures, against the node keys that a verified
  ``read_state`` of ``/subnet`` certifies for the canister's subnet (cached per agent
  for ``SUBNET_KEYS_TTL`` seconds, refreshed at once when an unknown node signs).

A query answer is still one node's word (signed, not agreed by consensus); an update
call's outcome is certified by the subnet. The canister APIs are built on ``Agent``:
``chains.icp.ledger`` (ICRC-1 balances) and ``chains.icp.xrc`` (the Exchange Rate Canister).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import secrets
import ssl
import threading
import time
import zlib
from typing import Any, Self
from urllib.parse import urlsplit

import cbor2
import httpx
from ic.candid import decode
from ic.identity import Identity

from chains.icp.certificate import (
    Certificate,
    bls_public_key_from_der,
    configured_max_age,
    configured_root_key,
    hash_of_map,
    verify_certificate,
    verify_query_signatures,
)
from chains.icp.errors import (
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
)

__all__ = [
    "DEFAULT_IC_HOST",
    "LOCAL_REPLICA_HOST",
    "Agent",
    "IcpCanisterNotInSubnet",
    "IcpCertificateError",
    "IcpCertificateStale",
    "IcpDelegationInvalid",
    "IcpError",
    "IcpInvalidArgument",
    "IcpPollTimeout",
    "IcpProtocolError",
    "IcpRejected",
    "IcpSignatureInvalid",
    "IcpUnavailable",
    "principal_is_valid",
    "principal_to_text",
    "require_principal",
]

logger = logging.getLogger(__name__)

DEFAULT_IC_HOST = "https://icp-api.io"
LOCAL_REPLICA_HOST = "http://127.0.0.1:4943"

# Reject codes of the interface spec, for callers that branch on them.
REJECT_SYS_FATAL = 1
REJECT_SYS_TRANSIENT = 2
REJECT_DESTINATION_INVALID = 3
REJECT_CANISTER_REJECT = 4
REJECT_CANISTER_ERROR = 5
REJECT_SYS_UNKNOWN = 6

_ANONYMOUS_SENDER = b"\x04"
_SELF_DESCRIBE_TAG = 55799
_CBOR_HEADERS = {"Content-Type": "application/cbor", "Accept": "application/cbor"}
# Ingress replies are capped at 2 MiB by the IC; certificates add a little on top.
_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
# The replica refuses expiries more than 5 min (+ drift) ahead; agent-rs uses 5 min
# minus 60 s for clock skew, and so do we.
_INGRESS_EXPIRY_SECONDS = 240
_MAX_PRINCIPAL_BYTES = 29
_BASE32_RE = re.compile(r"^[a-z2-7]+$")
_MAX_POLL_INTERVAL = 2.0
# Seconds a subnet's certified node keys are reused for query signatures (agent-rs
# caches them for five minutes too); an unknown signer triggers a refresh before that.
SUBNET_KEYS_TTL = 300.0


# --------------------------------------------------------------------------- principals


def _principal_to_text(raw: bytes) -> str:
    checksum = zlib.crc32(raw).to_bytes(4, "big")
    text = base64.b32encode(checksum + raw).decode("ascii").lower().rstrip("=")
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5))


def _principal_bytes(text: str) -> bytes | None:
    """Decode a textual principal, or None if it is not a valid one."""
    if not isinstance(text, str) or not 1 <= len(text) <= 63 or not text.isascii():
        return None
    # The spec: printed lower case, parsed case-insensitively; grouping must be canonical.
    lowered = text.lower()
    groups = lowered.split("-")
    if any(len(g) != 5 for g in groups[:-1]) or not 1 <= len(groups[-1]) <= 5:
        return None
    compact = "".join(groups)
    if not _BASE32_RE.match(compact):
        return None
    try:
        decoded = base64.b32decode(compact.upper() + "=" * (-len(compact) % 8))
    except (binascii.Error, ValueError):
        return None
    if len(decoded) < 4 or len(decoded) - 4 > _MAX_PRINCIPAL_BYTES:
        return None
    raw = decoded[4:]
    if zlib.crc32(raw).to_bytes(4, "big") != decoded[:4]:
        return None
    # Re-encoding rejects non-canonical base32 (non-zero padding bits, odd lengths).
    if _principal_to_text(raw) != lowered:
        return None
    return raw


def principal_is_valid(text: str) -> bool:
    """Tell whether ``text`` is a well-formed textual ICP principal.

    Checks the form ``Grouped(Base32(CRC32_BE(b) . b))``: base32 alphabet, dashes
    every 5 characters, at most 29 bytes, matching CRC-32. Case-insensitive as the
    interface spec says it is parsed; the canonical form is lower case.

    Preconditions: none (any value is accepted and simply judged).
    Side effects: none. Raises: nothing.
    """
    return _principal_bytes(text) is not None


def principal_to_text(raw: bytes) -> str:
    """The canonical (lower-case, grouped) text of the principal whose bytes are ``raw``."""
    return _principal_to_text(raw)


def require_principal(text: str, what: str) -> bytes:
    """The bytes of the textual principal ``text``; ``what`` names it in the error.

    Raises IcpInvalidArgument if ``text`` is not a valid principal.
    """
    raw = _principal_bytes(text)
    if raw is None:
        raise IcpInvalidArgument(f"{what} is not a valid principal: {text!r}")
    return raw


# --------------------------------------------------------------------------- agent


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Building a verifying context loads the CA bundle (tens of ms); share one so
    # creating a client per request stays cheap. Same defaults as httpx's own.
    return httpx.create_ssl_context()


class Agent:
    """Anonymous IC HTTP-interface agent: what the canister APIs call through.

    The canister APIs subclass it (``ledger.LedgerClient``, ``xrc.XrcClient``) and
    use ``_query``, ``_update`` and ``_decode``.

    ``host`` is the boundary node or replica, e.g. ``DEFAULT_IC_HOST`` on mainnet or
    ``LOCAL_REPLICA_HOST`` for dfx. Plain ``http://`` is refused for non-loopback
    hosts unless ``allow_insecure_http`` is set: answers are verified, but TLS still
    keeps the traffic private and a man in the middle from withholding answers.
    ``root_key`` is the DER-encoded IC root public key answers are verified against
    (default ``ICP_ROOT_KEY`` or mainnet's, see ``certificate.configured_root_key``);
    ``certificate_max_age`` the seconds a certificate's time may be from now (default
    ``ICP_CERTIFICATE_MAX_AGE``, 300).
    ``timeout`` bounds every HTTP request (connect to last byte); ``call_timeout``
    bounds the whole call-and-poll of an update call; polling starts at
    ``poll_interval`` seconds and backs off to 2 s.

    Holds an ``httpx.Client`` connection pool: call ``close()`` or use it as a
    context manager. Safe to share between threads.
    """

    def __init__(
        self,
        *,
        host: str,
        timeout: float = 10.0,
        call_timeout: float = 30.0,
        poll_interval: float = 0.5,
        allow_insecure_http: bool = False,
        root_key: bytes | None = None,
        certificate_max_age: float | None = None,
    ) -> None:
        """Validate the settings and open the connection pool (no network traffic yet).

        Raises ``ValueError`` for a malformed host, a non-loopback ``http://`` host
        without ``allow_insecure_http``, non-positive timeouts, or a root key that is
        not a DER-encoded BLS public key.
        """
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"host must be an http(s) URL, got {host!r}")
        if parts.query or parts.fragment or parts.path not in ("", "/"):
            raise ValueError(f"host must not have a path, query or fragment: {host!r}")
        loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
        if parts.scheme == "http" and not loopback and not allow_insecure_http:
            raise ValueError(
                "plain http is only allowed for loopback hosts; TLS keeps the traffic "
                "private and answers from being withheld or replayed in transit"
            )
        if timeout <= 0 or call_timeout <= 0 or poll_interval <= 0:
            raise ValueError("timeout, call_timeout and poll_interval must be positive")
        self.root_key = configured_root_key() if root_key is None else root_key
        bls_public_key_from_der(self.root_key)
        self.certificate_max_age = (
            configured_max_age() if certificate_max_age is None else certificate_max_age
        )
        if self.certificate_max_age <= 0:
            raise ValueError("certificate_max_age must be positive")
        self._subnet_keys: dict[str, tuple[float, dict[bytes, bytes]]] = {}
        self._subnet_keys_lock = threading.Lock()
        self.host = f"{parts.scheme}://{parts.netloc}"
        self.timeout = timeout
        self.call_timeout = call_timeout
        self.poll_interval = poll_interval
        self._identity = Identity(anonymous=True)
        self._sender: bytes = self._identity.sender().bytes
        if self._sender != _ANONYMOUS_SENDER:  # pragma: no cover - ic-py invariant
            raise RuntimeError("ic-py anonymous identity is not the anonymous principal")
        # No redirects: a boundary node never redirects API calls, and following one
        # would re-POST the request somewhere else.
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False, verify=_tls_context()
        )

    def close(self) -> None:
        """Close the connection pool. Side effect: later calls fail with IcpUnavailable."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ public API
    # ------------------------------------------------------------------ protocol

    def _content(
        self, request_type: str, canister: bytes, method: str, arg: bytes, *, nonce: bool
    ) -> dict[str, Any]:
        content: dict[str, Any] = {
            "request_type": request_type,
            "sender": self._sender,
            "ingress_expiry": time.time_ns() + _INGRESS_EXPIRY_SECONDS * 1_000_000_000,
            "canister_id": canister,
            "method_name": method,
            "arg": arg,
        }
        if nonce:
            # Two identical calls in the same expiry window would otherwise share a
            # request id and the IC would answer the second with the first's result.
            content["nonce"] = secrets.token_bytes(16)
        return content

    @staticmethod
    def _envelope(content: dict[str, Any]) -> bytes:
        # Anonymous: sender_pubkey / sender_sig / sender_delegation must be omitted
        # (not null, as ic.agent.sign_request does). Tag 55799 as the spec asks.
        return cbor2.dumps(cbor2.CBORTag(_SELF_DESCRIBE_TAG, {"content": content}))

    def read_state(self, canister_id: str, paths: list[list[bytes]]) -> Certificate:
        """Read ``paths`` of the state tree through ``canister_id`` and verify the answer.

        Preconditions: ``canister_id`` is a textual principal (the effective canister id).
        Side effects: one HTTP POST to ``/read_state``.
        Returns the verified ``Certificate`` (lookups on it may be trusted).
        Raises IcpInvalidArgument, IcpUnavailable, IcpProtocolError, or an
        IcpCertificateError subclass when the certificate does not verify.
        """
        canister = require_principal(canister_id, "canister id")
        return self._read_state(_principal_to_text(canister), canister, paths)

    def _read_state(self, effective: str, canister: bytes, paths: list[list[bytes]]) -> Certificate:
        content = {
            "request_type": "read_state",
            "sender": self._sender,
            "ingress_expiry": time.time_ns() + _INGRESS_EXPIRY_SECONDS * 1_000_000_000,
            "paths": paths,
        }
        status, body = self._post(effective, "read_state", self._envelope(content))
        if status != 200:
            self._raise_for_status(status, body, "read_state")
        answer = self._cbor_map(body, "read_state")
        cert_bytes = answer.get("certificate")
        if not isinstance(cert_bytes, bytes):
            raise IcpProtocolError("read_state answer has no certificate blob")
        try:
            return verify_certificate(
                cert_bytes,
                canister_id=canister,
                root_key=self.root_key,
                max_age_seconds=self.certificate_max_age,
            )
        except IcpCertificateError as exc:
            logger.warning("icp certificate refused from %s: %s", effective, exc)
            raise

    def _node_keys(self, effective: str, canister: bytes, *, refresh: bool) -> dict[bytes, bytes]:
        """The certified node keys of the canister's subnet (cached, see SUBNET_KEYS_TTL)."""
        now = time.monotonic()
        with self._subnet_keys_lock:
            cached = self._subnet_keys.get(effective)
        if cached is not None and cached[0] > now and not refresh:
            return cached[1]
        keys = self._read_state(effective, canister, [[b"subnet"]]).node_keys()
        if not keys:
            raise IcpCertificateError("the subnet's certified state lists no node keys")
        with self._subnet_keys_lock:
            self._subnet_keys[effective] = (now + SUBNET_KEYS_TTL, keys)
        return keys

    def _verify_query(
        self, effective: str, canister: bytes, answer: dict[str, Any], request_id: bytes
    ) -> None:
        keys = self._node_keys(effective, canister, refresh=False)
        entries = answer.get("signatures") or []
        signers = {s.get("identity") for s in entries if isinstance(s, dict)}
        if not signers <= keys.keys():
            # Nodes join and leave subnets: an unknown signer may be new since the cache.
            keys = self._node_keys(effective, canister, refresh=True)
        try:
            verify_query_signatures(
                answer,
                request_id=request_id,
                node_keys=keys,
                max_age_seconds=self.certificate_max_age,
            )
        except IcpCertificateError as exc:
            logger.warning("icp query answer refused from %s: %s", effective, exc)
            raise

    def _query(self, canister_id: str, method: str, arg: bytes) -> bytes:
        canister = require_principal(canister_id, "canister id")
        effective = _principal_to_text(canister)
        content = self._content("query", canister, method, arg, nonce=False)
        logger.debug("icp query %s.%s", effective, method)
        status, body = self._post(effective, "query", self._envelope(content))
        if status != 200:
            self._raise_for_status(status, body, "query")
        answer = self._cbor_map(body, "query")
        if answer.get("status") not in ("replied", "rejected"):
            raise IcpProtocolError(f"unknown query status: {answer.get('status')!r}")
        # Verified before use, rejections included: an unsigned "rejected" could hide a balance.
        self._verify_query(effective, canister, answer, hash_of_map(content))
        if answer.get("status") == "replied":
            reply = answer.get("reply")
            arg_out = reply.get("arg") if isinstance(reply, dict) else None
            if not isinstance(arg_out, bytes):
                raise IcpProtocolError("query reply has no arg blob")
            return arg_out
        raise self._rejection(answer)

    def _update(self, canister_id: str, method: str, arg: bytes) -> bytes:
        canister = require_principal(canister_id, "canister id")
        effective = _principal_to_text(canister)
        content = self._content("call", canister, method, arg, nonce=True)
        request_id = hash_of_map(content)
        deadline = time.monotonic() + self.call_timeout
        logger.debug("icp call %s.%s request_id=%s", effective, method, request_id.hex())
        status, body = self._post(effective, "call", self._envelope(content))
        if status == 200:
            # v2: a 200 answer to /call is a non-replicated rejection (e.g. the
            # canister's inspect_message refused the ingress message).
            raise self._rejection(self._cbor_map(body, "call"))
        if status != 202:
            self._raise_for_status(status, body, "call")
        return self._poll(effective, canister, request_id, deadline)

    def _poll(self, effective: str, canister: bytes, request_id: bytes, deadline: float) -> bytes:
        interval = self.poll_interval
        last_status: str | None = None
        last_error: IcpUnavailable | None = None
        while True:
            try:
                cert: Certificate | None = self._read_state(
                    effective, canister, [[b"request_status", request_id]]
                )
                last_error = None
            except IcpUnavailable as exc:
                # The call is in flight: a transient read_state failure must not be
                # reported as a failed call, so keep polling until the deadline.
                cert, last_error = None, exc
            if cert is not None:
                last_status = self._leaf_text(cert, request_id, b"status")
                if last_status == "replied":
                    reply = self._leaf(cert, request_id, b"reply")
                    if reply is None:
                        raise IcpProtocolError("status replied without a reply leaf")
                    return reply
                if last_status == "rejected":
                    code = self._leaf(cert, request_id, b"reject_code")
                    message = self._leaf_text(cert, request_id, b"reject_message") or ""
                    error_code = self._leaf_text(cert, request_id, b"error_code")
                    raise IcpRejected(_leb128_nat(code), message, error_code)
                if last_status == "done":
                    raise IcpProtocolError(
                        "call completed but its reply was already pruned (status done)"
                    )
                if last_status not in (None, "received", "processing"):
                    raise IcpProtocolError(f"unknown request status {last_status!r}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                detail = f"; last error: {last_error}" if last_error else ""
                raise IcpPollTimeout(
                    f"no outcome for request 0x{request_id.hex()} within "
                    f"{self.call_timeout}s (status {last_status}){detail}",
                    request_id=request_id.hex(),
                    last_status=last_status,
                )
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, _MAX_POLL_INTERVAL)

    @staticmethod
    def _leaf(cert: Certificate, request_id: bytes, name: bytes) -> bytes | None:
        return cert.lookup([b"request_status", request_id, name])

    @classmethod
    def _leaf_text(cls, cert: Certificate, request_id: bytes, name: bytes) -> str | None:
        value = cls._leaf(cert, request_id, name)
        if value is None:
            return None
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IcpProtocolError("certificate text leaf is not UTF-8") from exc

    # ------------------------------------------------------------------ transport

    def _post(self, effective: str, endpoint: str, body: bytes) -> tuple[int, bytes]:
        url = f"{self.host}/api/v2/canister/{effective}/{endpoint}"
        # httpx timeouts are per phase; this deadline also bounds a slow trickle.
        deadline = time.monotonic() + self.timeout
        try:
            with self._http.stream("POST", url, content=body, headers=_CBOR_HEADERS) as resp:
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > _MAX_RESPONSE_BYTES:
                        raise IcpProtocolError(f"{endpoint} answer exceeds {_MAX_RESPONSE_BYTES} B")
                    if time.monotonic() > deadline:
                        raise IcpUnavailable(f"{endpoint} timed out after {self.timeout}s")
                    chunks.append(chunk)
                return resp.status_code, b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise IcpUnavailable(f"{endpoint} timed out after {self.timeout}s") from exc
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise IcpUnavailable(f"{endpoint} failed: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _raise_for_status(status: int, body: bytes, endpoint: str) -> None:
        excerpt = body[:200].decode("utf-8", "replace").strip()
        excerpt = "".join(ch if ch.isprintable() else " " for ch in excerpt)
        if status == 429 or status >= 500:
            raise IcpUnavailable(f"{endpoint}: HTTP {status}: {excerpt}", status_code=status)
        raise IcpProtocolError(
            f"{endpoint}: unexpected HTTP {status}: {excerpt}", status_code=status
        )

    @staticmethod
    def _cbor_map(data: bytes, what: str) -> dict[str, Any]:
        try:
            value = cbor2.loads(data)
        except Exception as exc:  # cbor2 raises several unrelated types on bad input
            raise IcpProtocolError(f"{what} is not valid CBOR: {type(exc).__name__}") from exc
        if not isinstance(value, dict):
            raise IcpProtocolError(f"{what} is not a CBOR map")
        return value

    @staticmethod
    def _rejection(answer: dict[str, Any]) -> IcpRejected:
        code = answer.get("reject_code")
        message = answer.get("reject_message")
        error_code = answer.get("error_code")
        if not isinstance(code, int) or not isinstance(message, str):
            raise IcpProtocolError("rejection without reject_code/reject_message")
        return IcpRejected(code, message, error_code if isinstance(error_code, str) else None)

    @staticmethod
    def _decode(data: bytes, candid_type: Any, method: str) -> Any:
        try:
            values = decode(data, [candid_type])
        except Exception as exc:  # ic.candid raises ValueError, IndexError, struct.error...
            raise IcpProtocolError(
                f"{method} reply is not the expected candid: {type(exc).__name__}: {exc}"
            ) from exc
        if len(values) != 1:
            raise IcpProtocolError(f"{method} reply has {len(values)} values, expected 1")
        return values[0]["value"]


def _leb128_nat(data: bytes | None) -> int:
    """Decode an unsigned LEB128 leaf (how the state tree stores naturals)."""
    if not data:
        raise IcpProtocolError("missing natural number leaf")
    value = 0
    for shift, byte in enumerate(data):
        value |= (byte & 0x7F) << (7 * shift)
        if not byte & 0x80:
            if shift != len(data) - 1:
                raise IcpProtocolError("trailing bytes after LEB128 number")
            return value
    raise IcpProtocolError("truncated LEB128 number")
