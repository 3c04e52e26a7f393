"""A local HTTP server that answers like an IC replica, for testing ``chains.icp``.

It speaks the HTTP interface v2 on 127.0.0.1 (``POST /api/v2/canister/<ecid>/query``,
``/call``, ``/read_state`` and ``GET /api/v2/status``) with CBOR bodies (tag 55799),
and hosts two fake canisters: an ICRC-1 ledger (``icrc1_balance_of``, a query) and
the Exchange Rate Canister (``get_exchange_rate``, an update). Update calls are
answered 202 and their outcome is published in a certificate tree at
``request_status/<request_id>/...`` for ``read_state`` to find.

What the server checks, independently of ic-py where it matters:

* the envelope: only ``content``/``sender_*`` keys; anonymous senders must omit
  ``sender_pubkey``/``sender_sig``/``sender_delegation`` (spec: "must be omitted");
* the content: exact key set and types per request type, ``request_type`` matches
  the endpoint, ``ingress_expiry`` within (now, now + 6 min], nonce <= 32 bytes,
  effective canister id == ``canister_id``;
* the request id is recomputed here with its own representation-independent hash,
  so a client computing it wrongly polls for a request that does not exist;
* candid arguments are decoded twice: with ``ic.candid`` against this server's own
  type definitions (``RecordedRequest.args``) and with an independent, spec-written
  decoder (``RecordedRequest.arg_structure``, field-hash keyed), so a bug that
  ``ic.candid`` makes symmetrically on both sides still shows up.

Certification is real (``testing.icp_certification``): certificates are signed with
a BLS root key made per server (``root_key`` is its DER encoding, to give the client),
optionally through a subnet delegation (``delegated=True``) with canister ranges;
query answers carry Ed25519 signatures of node keys certified under ``/subnet``.
``misbehave`` makes the issuer wrong on purpose (stale time, a tampered leaf, a forged
or wrong delegation, bad query signatures).

What it does NOT emulate: signature checks for non-anonymous senders (they are
refused), the v3 synchronous call endpoint, cycles, the exact reject/error codes of a
real replica (they are plausible, not verified), and the rest of the state tree
(only ``time``, ``request_status`` and ``subnet`` can be read).

Programmable per test: balances, XRC result or error, canister rejects, ingress
refusal (what the mainnet XRC does), HTTP failures, hangs, how many polls an
update call stays ``received``/``processing``, and certification mischief. Every
request is recorded.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import cbor2
from django.conf import settings
from ic.candid import Types, decode, encode

from testing.http_server import Fault, LocalHttpServer
from testing.icp_certification import (
    BlsKey,
    Issuer,
    Mischief,
    hash_of_map,
    uleb128,
)

__all__ = [
    "ICP_LEDGER_CANISTER_ID",
    "IcpTestServer",
    "Mischief",
    "RecordedRequest",
    "hash_of_map",
    "idl_hash",
    "parse_candid",
    "principal_from_text",
    "principal_to_text",
    "uleb128",
]

ICP_LEDGER_CANISTER_ID = "ryjl3-tyaaa-aaaaa-aaaba-cai"
ANONYMOUS = b"\x04"
_TAG = 55799
_MAX_BODY = 5 * 1024 * 1024
_MAX_EXPIRY_NS = (5 * 60 + 60) * 1_000_000_000  # MAX_INGRESS_TTL + PERMITTED_DRIFT
# Every canister id (10 bytes, ending 0x01 0x01) lies in this range.
ALL_CANISTERS = (bytes(8) + b"\x01\x01", b"\xff" * 8 + b"\x01\x01")
_PATH_RE = re.compile(r"^/api/v2/canister/([a-z0-9-]{1,64})/(query|call|read_state)$")
_ENVELOPE_KEYS = frozenset({"content", "sender_pubkey", "sender_sig", "sender_delegation"})
_CONTENT_KEYS = {
    "query": frozenset(
        {"request_type", "sender", "ingress_expiry", "nonce", "canister_id", "method_name", "arg"}
    ),
    "read_state": frozenset({"request_type", "sender", "ingress_expiry", "nonce", "paths"}),
}
_CONTENT_KEYS["call"] = _CONTENT_KEYS["query"]
_REQUIRED_KEYS = {
    "query": frozenset(
        {"request_type", "sender", "ingress_expiry", "canister_id", "method_name", "arg"}
    ),
    "read_state": frozenset({"request_type", "sender", "ingress_expiry", "paths"}),
}
_REQUIRED_KEYS["call"] = _REQUIRED_KEYS["query"]

RATE_ERROR_KINDS = (
    "AnonymousPrincipalNotAllowed",
    "Pending",
    "CryptoBaseAssetNotFound",
    "CryptoQuoteAssetNotFound",
    "StablecoinRateNotFound",
    "StablecoinRateTooFewRates",
    "StablecoinRateZeroRate",
    "ForexInvalidTimestamp",
    "ForexBaseAssetNotFound",
    "ForexQuoteAssetNotFound",
    "ForexAssetsNotFound",
    "RateLimited",
    "NotEnoughCycles",
    "FailedToAcceptCycles",
    "InconsistentRatesReceived",
    "Other",
)

# The server's own candid types, written from icrc1.did and xrc.did (not imported
# from chains.icp, so a typo there is not mirrored here).
_S_ACCOUNT = Types.Record(
    {"owner": Types.Principal, "subaccount": Types.Opt(Types.Vec(Types.Nat8))}
)
_S_ASSET = Types.Record(
    {
        "symbol": Types.Text,
        "class": Types.Variant({"Cryptocurrency": Types.Null, "FiatCurrency": Types.Null}),
    }
)
_S_REQUEST = Types.Record(
    {"base_asset": _S_ASSET, "quote_asset": _S_ASSET, "timestamp": Types.Opt(Types.Nat64)}
)
_S_RESULT = Types.Variant(
    {
        "Ok": Types.Record(
            {
                "base_asset": _S_ASSET,
                "quote_asset": _S_ASSET,
                "timestamp": Types.Nat64,
                "rate": Types.Nat64,
                "metadata": Types.Record(
                    {
                        "decimals": Types.Nat32,
                        "base_asset_num_received_rates": Types.Nat64,
                        "base_asset_num_queried_sources": Types.Nat64,
                        "quote_asset_num_received_rates": Types.Nat64,
                        "quote_asset_num_queried_sources": Types.Nat64,
                        "standard_deviation": Types.Nat64,
                        "forex_timestamp": Types.Opt(Types.Nat64),
                    }
                ),
            }
        ),
        "Err": Types.Variant(
            {
                **{k: Types.Null for k in RATE_ERROR_KINDS if k != "Other"},
                "Other": Types.Record({"code": Types.Nat32, "description": Types.Text}),
            }
        ),
    }
)


# --------------------------------------------------------------------------- encodings


def idl_hash(name: str) -> int:
    """Candid field id of a textual label (spec: sum of utf8 bytes * 223^k mod 2^32)."""
    h = 0
    for b in name.encode("utf-8"):
        h = (h * 223 + b) % 2**32
    return h


def principal_to_text(raw: bytes) -> str:
    """Textual form of a principal (independent of ic-py and chains.icp)."""
    text = base64.b32encode(zlib.crc32(raw).to_bytes(4, "big") + raw).decode().lower()
    text = text.rstrip("=")
    return "-".join(text[i : i + 5] for i in range(0, len(text), 5))


def principal_from_text(text: str) -> bytes | None:
    """Bytes of a canonical textual principal, or None."""
    compact = text.replace("-", "")
    if not compact or not re.fullmatch(r"[a-z2-7]+", compact):
        return None
    try:
        decoded = base64.b32decode(compact.upper() + "=" * (-len(compact) % 8))
    except ValueError:
        return None
    raw = decoded[4:]
    if len(decoded) < 4 or len(raw) > 29 or principal_to_text(raw) != text:
        return None
    return raw


# --------------------------------------------------------------------------- candid


class CandidError(ValueError):
    """A candid message that does not follow the spec."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CandidError("unexpected end of candid message")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uleb(self) -> int:
        value = shift = 0
        while True:
            (byte,) = self.take(1)
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def sleb(self) -> int:
        value = shift = 0
        while True:
            (byte,) = self.take(1)
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value - (1 << shift) if byte & 0x40 else value


_FIXED = {-5: "<B", -6: "<H", -7: "<I", -8: "<Q", -9: "<b", -10: "<h", -11: "<i", -12: "<q"}
_FLOATS = {-13: "<f", -14: "<d"}


def parse_candid(data: bytes) -> list[Any]:
    """Decode a candid message without any expected type, straight from the spec.

    Records become ``{field_id: value}``, variants ``{field_id: value}`` with one
    entry, ``opt`` becomes ``[]``/``[value]``, ``blob`` (vec nat8) ``bytes``,
    principals ``bytes``. Raises CandidError on anything malformed or trailing bytes.
    """
    r = _Reader(data)
    if r.take(4) != b"DIDL":
        raise CandidError("missing DIDL magic")
    table: list[tuple[int, Any]] = []
    for _ in range(r.uleb()):
        op = r.sleb()
        if op in (-18, -19):
            table.append((op, r.sleb()))
        elif op in (-20, -21):
            fields, prev = [], -1
            for _ in range(r.uleb()):
                fid = r.uleb()
                if fid <= prev or fid >= 2**32:
                    raise CandidError("field ids must be strictly increasing 32-bit")
                prev = fid
                fields.append((fid, r.sleb()))
            table.append((op, fields))
        else:
            raise CandidError(f"unsupported type opcode {op}")
    for _op, ref in table:
        refs = [ref] if isinstance(ref, int) else [t for _, t in ref]
        if any(t >= len(table) for t in refs):
            raise CandidError("type reference out of range")
    arg_types = [r.sleb() for _ in range(r.uleb())]
    values = [_read_value(r, t, table) for t in arg_types]
    if r.pos != len(data):
        raise CandidError("trailing bytes after candid values")
    return values


def _read_value(r: _Reader, t: int, table: list[tuple[int, Any]]) -> Any:
    if t >= 0:
        if t >= len(table):
            raise CandidError("type index out of range")
        op, info = table[t]
        if op == -18:
            flag = r.take(1)[0]
            if flag not in (0, 1):
                raise CandidError("bad opt flag")
            return [_read_value(r, info, table)] if flag else []
        if op == -19:
            n = r.uleb()
            if info == -5:
                return r.take(n)
            return [_read_value(r, info, table) for _ in range(n)]
        if op == -20:
            return {fid: _read_value(r, ft, table) for fid, ft in info}
        index = r.uleb()
        if index >= len(info):
            raise CandidError("variant index out of range")
        fid, ft = info[index]
        return {fid: _read_value(r, ft, table)}
    if t in (-1, -16):
        return None
    if t == -2:
        flag = r.take(1)[0]
        if flag > 1:
            raise CandidError("bad bool")
        return bool(flag)
    if t == -3:
        return r.uleb()
    if t == -4:
        return r.sleb()
    if t in _FIXED:
        fmt = _FIXED[t]
        return struct.unpack(fmt, r.take(struct.calcsize(fmt)))[0]
    if t in _FLOATS:
        fmt = _FLOATS[t]
        return struct.unpack(fmt, r.take(struct.calcsize(fmt)))[0]
    if t == -15:
        try:
            return r.take(r.uleb()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CandidError("text is not UTF-8") from exc
    if t == -24:
        if r.take(1) != b"\x01":
            raise CandidError("opaque principal references are not supported")
        n = r.uleb()
        if n > 29:
            raise CandidError("principal longer than 29 bytes")
        return r.take(n)
    raise CandidError(f"unsupported primitive type {t}")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server decoded it, and how it answered.

    ``args`` are the decoded candid arguments in plain Python (principals as text,
    blobs as bytes, variants as their case name); ``arg_structure`` is the
    independent decoder's view (field ids, see ``parse_candid``). ``request_status``
    is the status a read_state answer revealed for the polled request (or None).
    """

    endpoint: str
    effective_canister_id: str
    http_status: int
    error: str | None = None
    request_type: str | None = None
    sender: bytes | None = None
    canister_id: str | None = None
    method_name: str | None = None
    args: Any = None
    arg_structure: Any = None
    paths: tuple[tuple[bytes, ...], ...] | None = None
    request_id: bytes | None = None
    nonce: bytes | None = None
    ingress_expiry: int | None = None
    envelope_keys: frozenset[str] = frozenset()
    self_describing_tag: bool = False
    request_status: str | None = None


@dataclass
class _Call:
    request_id: bytes
    sender: bytes
    effective: bytes
    outcome: tuple[Any, ...]
    not_ready_polls: int
    polls: int = 0


@dataclass
class _State:
    balances: dict[tuple[str, str, bytes], int] = field(default_factory=dict)
    rates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rate_error: dict[str, Any] | None = None
    method_rejects: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)
    ingress_rejects: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)
    not_ready_polls: int = 0
    calls: dict[bytes, _Call] = field(default_factory=dict)
    mischief: Mischief = field(default_factory=Mischief)


class _HttpFail(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _cbor(value: Any) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(_TAG, value))


# --------------------------------------------------------------------------- server


class IcpTestServer(LocalHttpServer[RecordedRequest]):
    """Replica-like HTTP server on 127.0.0.1 with a fake ICRC-1 ledger and XRC.

    Use as a context manager (or ``start()``/``stop()``); ``url`` is the host to give
    ``IcpClient``. All setters are thread-safe and take effect for later requests.
    ``requests`` lists every request received so far, in order.
    """

    def __init__(
        self,
        *,
        ledger_canister_id: str = ICP_LEDGER_CANISTER_ID,
        other_ledgers: tuple[str, ...] = (),
        xrc_canister_id: str | None = None,
        root_secret: int | None = None,
        delegated: bool = False,
        canister_ranges: list[tuple[str, str]] | None = None,
        ranges_format: str = "sharded",
    ) -> None:
        """Prepare an empty server (not listening yet); the XRC's canister id is
        ``xrc_canister_id``, by default ``settings.ORACLE_ICP_XRC_CANISTER_ID``.
        ``other_ledgers`` are more ICRC-1 ledgers hosted next to ``ledger_canister_id``.

        Certification: a fresh random root key unless ``root_secret`` is given;
        ``delegated`` puts the canisters on a subnet with a root-signed delegation
        listing ``canister_ranges`` (textual canister id pairs, default: all canisters)
        in ``ranges_format`` (``"sharded"`` or the older ``"subnet"``).
        """
        super().__init__()
        self.ledger_canister_id = ledger_canister_id
        self.other_ledgers = other_ledgers
        self.xrc_canister_id = (
            settings.ORACLE_ICP_XRC_CANISTER_ID if xrc_canister_id is None else xrc_canister_id
        )
        ranges = [ALL_CANISTERS]
        if canister_ranges is not None:
            ranges = [(_principal_bytes(lo), _principal_bytes(hi)) for lo, hi in canister_ranges]
        self.issuer = Issuer(
            root=BlsKey(root_secret),
            delegated=delegated,
            canister_ranges=ranges,
            ranges_format=ranges_format,
        )
        self._state = _State()

    @property
    def root_key(self) -> bytes:
        """The DER-encoded root public key certificates verify against (give it to
        the client as ``root_key`` or ``ICP_ROOT_KEY``)."""
        return self.issuer.root.der

    def client_settings(self) -> dict[str, str]:
        """Django settings that point the client's verification at this server's root
        key, for ``override_settings(**server.client_settings())``."""
        return {"ICP_ROOT_KEY": self.root_key.hex()}

    # ------------------------------------------------------------------ programming

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """Recorded requests to ``query``, ``call`` or ``read_state``."""
        return [r for r in self.requests if r.endpoint == endpoint]

    def set_balance(
        self,
        owner: str,
        amount: int,
        *,
        subaccount: bytes | None = None,
        ledger_canister_id: str | None = None,
    ) -> None:
        """Set an ICRC-1 balance; ``subaccount`` None means the default (32 zero bytes)."""
        key = (ledger_canister_id or self.ledger_canister_id, owner, subaccount or bytes(32))
        with self._lock:
            self._state.balances[key] = amount

    def set_exchange_rate(
        self,
        *,
        base: str,
        quote: str,
        rate: int,
        decimals: int,
        base_class: str = "Cryptocurrency",
        quote_class: str = "FiatCurrency",
        timestamp: int | None = None,
        standard_deviation: int = 0,
        forex_timestamp: int | None = None,
        for_request: tuple[str, str] | None = None,
    ) -> None:
        """Make ``get_exchange_rate`` answer ``Ok`` for a pair (``for_request`` lets the
        answer name another pair than the one asked, to test the client's check)."""
        record = {
            "base_asset": {"symbol": base, "class": {base_class: None}},
            "quote_asset": {"symbol": quote, "class": {quote_class: None}},
            "timestamp": timestamp,
            "rate": rate,
            "metadata": {
                "decimals": decimals,
                "base_asset_num_received_rates": 5,
                "base_asset_num_queried_sources": 7,
                "quote_asset_num_received_rates": 3,
                "quote_asset_num_queried_sources": 4,
                "standard_deviation": standard_deviation,
                "forex_timestamp": [] if forex_timestamp is None else [forex_timestamp],
            },
        }
        key = tuple(s.upper() for s in (for_request or (base, quote)))
        with self._lock:
            self._state.rates[key] = record  # type: ignore[index]
            self._state.rate_error = None

    def set_exchange_rate_error(self, kind: str, *, code: int = 0, description: str = "") -> None:
        """Make every ``get_exchange_rate`` answer ``Err(kind)`` (``Other`` carries
        ``code``/``description``)."""
        if kind not in RATE_ERROR_KINDS:
            raise ValueError(f"unknown ExchangeRateError case {kind!r}")
        value = {kind: {"code": code, "description": description} if kind == "Other" else None}
        with self._lock:
            self._state.rate_error = value

    def reject_method(
        self, method: str, *, reject_code: int = 4, message: str = "", error_code: str | None = None
    ) -> None:
        """Make the canister reject ``method`` (query: status rejected; update: a
        certified rejection found by read_state)."""
        with self._lock:
            self._state.method_rejects[method] = (reject_code, message, error_code)

    def reject_ingress(
        self,
        canister_id: str,
        *,
        reject_code: int = 4,
        message: str | None = None,
        error_code: str | None = "IC0406",
    ) -> None:
        """Refuse update calls to ``canister_id`` before execution, as a
        ``canister_inspect_message`` that never accepts does (the mainnet XRC):
        ``/call`` answers 200 with a CBOR rejection."""
        text = message or f"Requested canister {canister_id} rejected the message"
        with self._lock:
            self._state.ingress_rejects[canister_id] = (reject_code, text, error_code)

    def fail_next(
        self,
        status: int,
        *,
        endpoint: str | None = None,
        times: int | None = 1,
        body: bytes = b"injected failure",
        content_type: str = "text/plain",
    ) -> None:
        """Answer the next ``times`` requests (None: all) to ``endpoint`` (None: any)
        with ``status`` and ``body`` instead of processing them."""
        fault = Fault(status=status, body=body, content_type=content_type, times=times)
        self._add_fault(endpoint, fault)

    def hang(self, seconds: float, *, endpoint: str | None = None, times: int | None = 1) -> None:
        """Delay the answer to the next ``times`` requests by ``seconds`` (released
        early by ``stop()``), then answer normally."""
        self._add_fault(endpoint, Fault(hang_seconds=seconds, times=times))

    def misbehave(self, **changes: Any) -> None:
        """Make later certificates or query signatures wrong on purpose; the keyword
        arguments are ``Mischief`` fields (``clock_offset_seconds``, ``tamper_leaf``,
        ``forge_delegation``, ``wrong_subnet_key``, ``nested_delegation``,
        ``query_signatures``). ``reset()`` ends all mischief."""
        with self._lock:
            self._state.mischief = dataclasses.replace(self._state.mischief, **changes)

    def set_processing_polls(self, polls: int) -> None:
        """Later update calls show ``received`` then ``processing`` for ``polls``
        read_state requests before their outcome appears."""
        with self._lock:
            self._state.not_ready_polls = polls

    def reset(self) -> None:
        """Forget all programming and recorded requests."""
        super().reset()
        with self._lock:
            self._state = _State()

    # ------------------------------------------------------------------ HTTP plumbing

    def _answer(
        self, h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str
    ) -> None:
        # A 202 to /call has an empty body and, like a replica's, no Content-Type.
        self._send(h, status, body, content_type if body or status != 202 else None)

    def handle_get(self, h: BaseHTTPRequestHandler) -> None:
        """Answer ``/api/v2/status`` like a replica; anything else is 404."""
        if h.path != "/api/v2/status":
            self._answer(h, 404, b"Not found", "text/plain")
            return
        status = {"ic_api_version": "0.18.0", "impl_version": "icp-testserver"}
        status["replica_health_status"] = "healthy"
        self._answer(h, 200, _cbor(status), "application/cbor")

    def handle_post(self, h: BaseHTTPRequestHandler) -> None:
        """Answer ``/api/v2/canister/<ecid>/{query,call,read_state}``; anything else is 404."""
        match = _PATH_RE.match(h.path)
        if not match:
            self._answer(h, 404, b"Not found", "text/plain")
            return
        effective_text, endpoint = match.groups()
        length = h.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._answer(h, 411, b"Content-Length required", "text/plain")
            return
        if int(length) > _MAX_BODY:
            self._answer(h, 413, b"Request body too large", "text/plain")
            h.close_connection = True
            return
        body = h.rfile.read(int(length))
        base: dict[str, Any] = {"endpoint": endpoint, "effective_canister_id": effective_text}
        try:
            parsed = self._parse(endpoint, effective_text, body, h.headers.get("Content-Type"))
            arg = parsed.pop("_arg")
        except _HttpFail as fail:
            self._record(RecordedRequest(**base, http_status=fail.status, error=fail.message))
            self._answer(h, fail.status, fail.message.encode(), "text/plain")
            return
        fault = self._take_fault(endpoint, None)
        if fault is not None and fault.hang_seconds:
            self._hold(fault.hang_seconds)
        if fault is not None and fault.status is not None:
            self._record(
                RecordedRequest(**base, **parsed, http_status=fault.status, error="injected")
            )
            self._answer(h, fault.status, fault.body or b"", fault.content_type)
            return
        try:
            status, payload, ctype, extra = self._dispatch(endpoint, parsed, arg)
        except _HttpFail as fail:
            self._record(
                RecordedRequest(**base, **parsed, http_status=fail.status, error=fail.message)
            )
            self._answer(h, fail.status, fail.message.encode(), "text/plain")
            return
        self._record(RecordedRequest(**base, **parsed, **extra, http_status=status))
        self._answer(h, status, payload, ctype)

    # ------------------------------------------------------------------ request parsing

    def _parse(
        self, endpoint: str, effective_text: str, body: bytes, content_type: str | None
    ) -> dict[str, Any]:
        if (content_type or "").split(";")[0].strip().lower() != "application/cbor":
            raise _HttpFail(400, "Unexpected content-type, expected application/cbor")
        if principal_from_text(effective_text) is None:
            raise _HttpFail(400, f"Invalid effective canister id: {effective_text}")
        try:
            envelope = cbor2.loads(body)
        except Exception as exc:  # any CBOR failure is a 400 on a replica
            raise _HttpFail(400, f"Could not parse body as {endpoint} message: {exc}") from exc
        if not isinstance(envelope, dict) or not isinstance(envelope.get("content"), dict):
            raise _HttpFail(400, "Envelope must be a map with a content map")
        if set(envelope) - _ENVELOPE_KEYS:
            raise _HttpFail(
                400, f"Unknown envelope fields: {sorted(set(envelope) - _ENVELOPE_KEYS)}"
            )
        content = envelope["content"]
        keys = set(content)
        if keys - _CONTENT_KEYS[endpoint] or _REQUIRED_KEYS[endpoint] - keys:
            raise _HttpFail(400, f"Bad {endpoint} content fields: {sorted(keys)}")
        if content["request_type"] != endpoint:
            raise _HttpFail(400, f"request_type {content['request_type']!r} at /{endpoint}")
        sender = content["sender"]
        if not isinstance(sender, bytes) or len(sender) > 29:
            raise _HttpFail(400, "sender must be a principal blob")
        if sender == ANONYMOUS:
            present = sorted(
                k for k in ("sender_pubkey", "sender_sig", "sender_delegation") if k in envelope
            )
            if present:
                raise _HttpFail(400, f"Anonymous request must omit {present}")
        else:
            raise _HttpFail(400, "the ICP test server accepts anonymous requests only")
        expiry = content["ingress_expiry"]
        now = time.time_ns()
        if not isinstance(expiry, int) or isinstance(expiry, bool):
            raise _HttpFail(400, "ingress_expiry must be a nat")
        if not now < expiry <= now + _MAX_EXPIRY_NS:
            raise _HttpFail(400, f"Invalid request expiry: {expiry} (now {now})")
        nonce = content.get("nonce")
        if nonce is not None and (not isinstance(nonce, bytes) or len(nonce) > 32):
            raise _HttpFail(400, "nonce must be a blob of at most 32 bytes")
        parsed: dict[str, Any] = {
            "request_type": endpoint,
            "sender": sender,
            "nonce": nonce,
            "ingress_expiry": expiry,
            "envelope_keys": frozenset(envelope),
            "self_describing_tag": body.startswith(b"\xd9\xd9\xf7"),
        }
        if endpoint == "read_state":
            paths = content["paths"]
            if (
                not isinstance(paths, list)
                or len(paths) > 1000
                or not all(
                    isinstance(p, list) and len(p) <= 127 and all(isinstance(x, bytes) for x in p)
                    for p in paths
                )
            ):
                raise _HttpFail(400, "paths must be a list of lists of blobs")
            parsed["paths"] = tuple(tuple(p) for p in paths)
        else:
            if not isinstance(content["canister_id"], bytes) or len(content["canister_id"]) > 29:
                raise _HttpFail(400, "canister_id must be a principal blob")
            if not isinstance(content["method_name"], str) or not isinstance(content["arg"], bytes):
                raise _HttpFail(400, "method_name must be text and arg a blob")
            parsed["canister_id"] = principal_to_text(content["canister_id"])
            parsed["method_name"] = content["method_name"]
            if parsed["canister_id"] != effective_text:
                raise _HttpFail(
                    400,
                    f"Specified CanisterId {parsed['canister_id']} does not match "
                    f"effective canister id in URL {effective_text}",
                )
        try:
            parsed["request_id"] = hash_of_map(content)
        except TypeError as exc:
            raise _HttpFail(400, f"Cannot compute request id: {exc}") from exc
        parsed["_arg"] = content.get("arg")
        return parsed

    # ------------------------------------------------------------------ dispatch

    def _dispatch(
        self, endpoint: str, parsed: dict[str, Any], arg: bytes | None
    ) -> tuple[int, bytes, str, dict[str, Any]]:
        if endpoint == "read_state":
            return self._read_state(parsed)
        canister, method = parsed["canister_id"], parsed["method_name"]
        methods = {
            **{
                ledger: {"icrc1_balance_of": "query"}
                for ledger in (self.ledger_canister_id, *self.other_ledgers)
            },
            self.xrc_canister_id: {"get_exchange_rate": "update"},
        }
        extra: dict[str, Any] = {}
        if canister not in methods:
            outcome: tuple[Any, ...] = ("reject", 3, f"Canister {canister} not found", "IC0301")
            if endpoint == "call":
                return 200, _cbor(self._reject_map(outcome)), "application/cbor", extra
            return (
                200,
                _cbor(self._query_answer(outcome, parsed["request_id"])),
                "application/cbor",
                extra,
            )
        kind = methods[canister].get(method)
        if endpoint == "call":
            with self._lock:
                refusal = self._state.ingress_rejects.get(canister)
            if refusal is not None:
                outcome = ("reject", *refusal)
                return 200, _cbor(self._reject_map(outcome)), "application/cbor", extra
        if kind is None or (endpoint == "query" and kind != "query"):
            outcome = (
                "reject",
                3,
                f"Canister {canister} has no {endpoint if endpoint == 'query' else 'update'} "
                f"method '{method}'",
                "IC0536",
            )
        else:
            outcome, extra = self._execute(canister, method, arg or b"")
        if endpoint == "query":
            answer = self._query_answer(outcome, parsed["request_id"])
            return 200, _cbor(answer), "application/cbor", extra
        with self._lock:
            if parsed["request_id"] not in self._state.calls:  # the IC deduplicates
                self._state.calls[parsed["request_id"]] = _Call(
                    request_id=parsed["request_id"],
                    sender=parsed["sender"],
                    effective=principal_from_text(canister) or b"",
                    outcome=outcome,
                    not_ready_polls=self._state.not_ready_polls,
                )
        return 202, b"", "application/cbor", extra

    @staticmethod
    def _reject_map(outcome: tuple[Any, ...]) -> dict[str, Any]:
        _, code, message, error_code = outcome
        answer: dict[str, Any] = {"reject_code": code, "reject_message": message}
        if error_code is not None:
            answer["error_code"] = error_code
        return answer

    def _query_answer(self, outcome: tuple[Any, ...], request_id: bytes) -> dict[str, Any]:
        with self._lock:
            mischief = self._state.mischief
        answer: dict[str, Any]
        if outcome[0] == "reply":
            answer = {"status": "replied", "reply": {"arg": outcome[1]}}
        else:
            answer = {"status": "rejected", **self._reject_map(outcome)}
        answer["signatures"] = self.issuer.sign_query(answer, request_id, mischief)
        if mischief.tamper_leaf and outcome[0] == "reply":
            arg = outcome[1]
            answer["reply"] = {"arg": arg[:-1] + bytes([arg[-1] ^ 0x01])}
        return answer

    def _execute(
        self, canister: str, method: str, arg: bytes
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        try:
            structure = parse_candid(arg)
        except CandidError as exc:
            return (
                "reject",
                5,
                f"Canister {canister} trapped: invalid candid: {exc}",
                "IC0503",
            ), {}
        with self._lock:
            forced = self._state.method_rejects.get(method)
        if method == "icrc1_balance_of":
            outcome, args = self._icrc1_balance_of(canister, arg)
        else:
            outcome, args = self._get_exchange_rate(arg)
        if forced is not None:
            outcome = ("reject", *forced)
        return outcome, {"args": args, "arg_structure": structure}

    def _icrc1_balance_of(self, canister: str, arg: bytes) -> tuple[tuple[Any, ...], Any]:
        try:
            (account,) = (v["value"] for v in decode(arg, [_S_ACCOUNT]))
        except Exception as exc:  # ic.candid raises many types; a replica would trap
            return (
                "reject",
                5,
                f"Canister {canister} trapped: decode failed: {exc}",
                "IC0503",
            ), None
        owner = account["owner"].to_str()
        sub = bytes(account["subaccount"][0]) if account["subaccount"] else None
        args = {"owner": owner, "subaccount": sub}
        if sub is not None and len(sub) != 32:
            return ("reject", 5, f"Canister {canister} trapped: invalid subaccount", "IC0503"), args
        with self._lock:
            amount = self._state.balances.get((canister, owner, sub or bytes(32)), 0)
        return ("reply", encode([{"type": Types.Nat, "value": amount}])), args

    def _get_exchange_rate(self, arg: bytes) -> tuple[tuple[Any, ...], Any]:
        try:
            (request,) = (v["value"] for v in decode(arg, [_S_REQUEST]))
        except Exception as exc:
            return ("reject", 5, f"XRC trapped: decode failed: {exc}", "IC0503"), None

        def asset(a: dict[str, Any]) -> dict[str, str]:
            return {"symbol": a["symbol"], "class": next(iter(a["class"]))}

        args: dict[str, Any] = {
            "base_asset": asset(request["base_asset"]),
            "quote_asset": asset(request["quote_asset"]),
            "timestamp": request["timestamp"][0] if request["timestamp"] else None,
        }
        pair = (args["base_asset"]["symbol"].upper(), args["quote_asset"]["symbol"].upper())
        with self._lock:
            error = self._state.rate_error
            record = self._state.rates.get(pair)
        if error is not None:
            result: dict[str, Any] = {"Err": error}
        elif record is None:
            result = {"Err": {"CryptoBaseAssetNotFound": None}}
        else:
            ok = {**record, "metadata": dict(record["metadata"])}
            if ok["timestamp"] is None:
                requested = args["timestamp"]
                ok["timestamp"] = ((requested or int(time.time()) - 30) // 60) * 60
            result = {"Ok": ok}
        reply = encode([{"type": _S_RESULT, "value": result}])
        parse_candid(reply)  # the reply must be spec-valid candid, whatever ic.candid does
        return ("reply", reply), args

    def _read_state(self, parsed: dict[str, Any]) -> tuple[int, bytes, str, dict[str, Any]]:
        paths = parsed["paths"]
        request_ids = set()
        wants_subnet = False
        for path in paths:
            if path == (b"time",):
                continue
            if path == (b"subnet",):
                wants_subnet = True
                continue
            if len(path) < 2 or path[0] != b"request_status" or len(path[1]) != 32:
                raise _HttpFail(404, "Invalid path requested.")
            if len(path) == 3 and path[2] not in (
                b"status",
                b"reply",
                b"reject_code",
                b"reject_message",
                b"error_code",
            ):
                raise _HttpFail(404, "Invalid path requested.")
            if len(path) > 3:
                raise _HttpFail(404, "Invalid path requested.")
            request_ids.add(path[1])
        if len(request_ids) > 1:
            raise _HttpFail(400, "All request_status paths must refer to the same request id")
        children: dict[bytes, Any] = {}
        if wants_subnet:
            children[b"subnet"] = self.issuer.subnet_tree()
        served: str | None = None
        call: _Call | None = None
        polls = not_ready = 0
        if request_ids:
            (request_id,) = request_ids
            with self._lock:
                call = self._state.calls.get(request_id)
                if call is not None:
                    if call.sender != parsed["sender"]:
                        raise _HttpFail(403, "Request status belongs to another sender")
                    call.polls += 1
                    polls, not_ready = call.polls, call.not_ready_polls
            if call is not None:
                leaves = self._status_leaves(call.outcome, polls, not_ready)
                served = leaves[b"status"].decode()
                children[b"request_status"] = {request_id: leaves}
        with self._lock:
            mischief = self._state.mischief
        answer = _cbor({"certificate": self.issuer.certificate(children, mischief)})
        return 200, answer, "application/cbor", {"request_status": served}

    @staticmethod
    def _status_leaves(outcome: tuple[Any, ...], polls: int, not_ready: int) -> dict[bytes, bytes]:
        if polls <= not_ready:
            return {b"status": b"received" if polls == 1 else b"processing"}
        if outcome[0] == "reply":
            return {b"status": b"replied", b"reply": outcome[1]}
        _, code, message, error_code = outcome
        leaves = {
            b"status": b"rejected",
            b"reject_code": uleb128(code),
            b"reject_message": message.encode(),
        }
        if error_code is not None:
            leaves[b"error_code"] = error_code.encode()
        return leaves


def _principal_bytes(text: str) -> bytes:
    raw = principal_from_text(text)
    if raw is None:
        raise ValueError(f"not a canonical principal: {text!r}")
    return raw
