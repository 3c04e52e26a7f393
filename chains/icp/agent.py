"""Internet Computer (ICP) agent: the HTTP transport under the canister APIs.

Speaks the IC HTTP interface v2 (``/api/v2/canister/<id>/query|call|read_state``)
with an anonymous identity. Candid encoding and decoding use ``ic.candid`` from
ic-py 1.0.1, the request id uses ``ic.utils.to_request_id`` and certificate
lookups use ``ic.certificate.lookup``. The HTTP transport, envelopes, status
handling and polling are done here because ic-py's own ``Agent``/``Client`` are
unsafe to use in a web application (see ``docs/icp.md``):

* ``ic.client.Client`` never sets a timeout of its own, ignores every HTTP
  status code (a 5xx HTML page is handed to the CBOR decoder) and ignores the
  body of a 200 answer to ``/call`` (a rejection by ``canister_inspect_message``).
* ``ic.agent.Agent.query_raw`` *returns* the reject message string of a
  rejected query instead of raising, so a rejection looks like a reply.
* ``ic.agent.Agent.poll`` waits forever by default and raises bare
  ``Exception``.
* ``ic.agent.sign_request`` puts ``sender_pubkey: null, sender_sig: null`` in
  anonymous envelopes; the interface spec says these fields must be omitted.

Nothing here verifies the BLS signature of read_state certificates, and query
answers are not certified at all; this module trusts the boundary node (and
TLS) for the integrity of every answer. ic-py does not verify them either.

The canister APIs are built on ``Agent``: ``chains.icp.ledger`` (ICRC-1 balances)
and ``chains.icp.xrc`` (the Exchange Rate Canister).
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import secrets
import ssl
import time
import zlib
from typing import Any, Self
from urllib.parse import urlsplit

import cbor2
import httpx
from ic.candid import decode
from ic.certificate import lookup
from ic.identity import Identity
from ic.utils import to_request_id

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


# --------------------------------------------------------------------------- errors


class IcpError(Exception):
    """Base class of every error raised by ``chains.icp`` (this module, ledger, xrc)."""


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
    hosts unless ``allow_insecure_http`` is set, because TLS is the only thing
    protecting answers (certificates are not verified, see the module docstring).
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
    ) -> None:
        """Validate the settings and open the connection pool (no network traffic yet).

        Raises ``ValueError`` for a malformed host, a non-loopback ``http://`` host
        without ``allow_insecure_http``, or non-positive timeouts.
        """
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"host must be an http(s) URL, got {host!r}")
        if parts.query or parts.fragment or parts.path not in ("", "/"):
            raise ValueError(f"host must not have a path, query or fragment: {host!r}")
        loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
        if parts.scheme == "http" and not loopback and not allow_insecure_http:
            raise ValueError(
                "plain http is only allowed for loopback hosts; answers are not "
                "certificate-verified, so TLS is their only protection"
            )
        if timeout <= 0 or call_timeout <= 0 or poll_interval <= 0:
            raise ValueError("timeout, call_timeout and poll_interval must be positive")
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

    def _query(self, canister_id: str, method: str, arg: bytes) -> bytes:
        canister = require_principal(canister_id, "canister id")
        effective = _principal_to_text(canister)
        content = self._content("query", canister, method, arg, nonce=False)
        logger.debug("icp query %s.%s", effective, method)
        status, body = self._post(effective, "query", self._envelope(content))
        if status != 200:
            self._raise_for_status(status, body, "query")
        answer = self._cbor_map(body, "query")
        if answer.get("status") == "replied":
            reply = answer.get("reply")
            arg_out = reply.get("arg") if isinstance(reply, dict) else None
            if not isinstance(arg_out, bytes):
                raise IcpProtocolError("query reply has no arg blob")
            return arg_out
        if answer.get("status") == "rejected":
            raise self._rejection(answer)
        raise IcpProtocolError(f"unknown query status: {answer.get('status')!r}")

    def _update(self, canister_id: str, method: str, arg: bytes) -> bytes:
        canister = require_principal(canister_id, "canister id")
        effective = _principal_to_text(canister)
        content = self._content("call", canister, method, arg, nonce=True)
        request_id: bytes = to_request_id(content)
        deadline = time.monotonic() + self.call_timeout
        logger.debug("icp call %s.%s request_id=%s", effective, method, request_id.hex())
        status, body = self._post(effective, "call", self._envelope(content))
        if status == 200:
            # v2: a 200 answer to /call is a non-replicated rejection (e.g. the
            # canister's inspect_message refused the ingress message).
            raise self._rejection(self._cbor_map(body, "call"))
        if status != 202:
            self._raise_for_status(status, body, "call")
        return self._poll(effective, request_id, deadline)

    def _poll(self, effective: str, request_id: bytes, deadline: float) -> bytes:
        interval = self.poll_interval
        last_status: str | None = None
        last_error: IcpUnavailable | None = None
        while True:
            try:
                cert = self._read_request_status(effective, request_id)
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

    def _read_request_status(self, effective: str, request_id: bytes) -> dict[str, Any]:
        content = {
            "request_type": "read_state",
            "sender": self._sender,
            "ingress_expiry": time.time_ns() + _INGRESS_EXPIRY_SECONDS * 1_000_000_000,
            "paths": [[b"request_status", request_id]],
        }
        status, body = self._post(effective, "read_state", self._envelope(content))
        if status != 200:
            self._raise_for_status(status, body, "read_state")
        answer = self._cbor_map(body, "read_state")
        cert_bytes = answer.get("certificate")
        if not isinstance(cert_bytes, bytes):
            raise IcpProtocolError("read_state answer has no certificate blob")
        cert = self._cbor_map(cert_bytes, "certificate")
        if "tree" not in cert or "signature" not in cert:
            raise IcpProtocolError("certificate lacks tree or signature")
        # NOT verified: the BLS signature over the tree root, the subnet delegation
        # and the certificate time. See the module docstring.
        return cert

    @staticmethod
    def _leaf(cert: dict[str, Any], request_id: bytes, name: bytes) -> bytes | None:
        try:
            value = lookup([b"request_status", request_id, name], cert)
        except (IndexError, KeyError, TypeError, AttributeError) as exc:
            raise IcpProtocolError(f"malformed certificate tree: {exc}") from exc
        if value is not None and not isinstance(value, bytes):
            raise IcpProtocolError("certificate leaf is not a blob")
        return value

    @classmethod
    def _leaf_text(cls, cert: dict[str, Any], request_id: bytes, name: bytes) -> str | None:
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
