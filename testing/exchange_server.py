"""A local HTTP server answering like Coinbase, Kraken, Binance and CoinGecko.

Exchange APIs are not reachable from the test machines, so the adapters in
``oracle.sources`` are tested over real HTTP against this server on 127.0.0.1.
It serves each exchange's real paths on one port, telling them apart by path:

* Coinbase Exchange ``GET /products/{BASE}-{QUOTE}/ticker``
* Kraken ``GET /0/public/Ticker?pair=XBTUSD``
* Binance ``GET /api/v3/ticker/price?symbol=BTCUSDT``
* CoinGecko ``GET /api/v3/simple/price?ids=...&vs_currencies=usd&include_last_updated_at=true``

Answers are built from the captured-format files in ``testing/fixtures/exchanges`` (the
ticker of one pair, re-priced), and unknown pairs answer as the exchanges do
(Coinbase 404 ``NotFound``, Kraken ``EQuery:Unknown asset pair``, Binance 400
``-1121 Invalid symbol.``, CoinGecko leaves the id out). The server's own symbol
tables (Kraken's ``XXBTZUSD``-style result keys, CoinGecko ids) are written here,
not imported from the adapters, so a wrong table there is not mirrored here.

Programmable per test and per source: prices (``set_price``), injected statuses
with headers (429 + ``Retry-After``, 418, 451, 5xx: ``fail``), raw bodies
(malformed JSON, a Kraken error list: ``respond_raw``/``kraken_error``), hangs
(``hang``) and slow bodies (``drip``). Every request is recorded.

Not emulated: rate limiting by itself (only injected), exchange-side caching,
Kraken's multi-pair requests, CoinGecko's other vs_currencies, compression.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testing.http_server import Fault, LocalHttpServer

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exchanges"
SOURCES = ("coinbase", "kraken", "binance", "coingecko")

# Kraken: our pair -> (request altname, result key). Old pairs are keyed by legacy
# X/Z-prefixed names, newer ones by the altname (as api.kraken.com answers).
KRAKEN_PAIRS = {
    "BTC-USD": ("XBTUSD", "XXBTZUSD"),
    "ETH-USD": ("ETHUSD", "XETHZUSD"),
    "USDT-USD": ("USDTUSD", "USDTZUSD"),
    "ICP-USD": ("ICPUSD", "ICPUSD"),
    "BTC-USDT": ("XBTUSDT", "XBTUSDT"),
    "ETH-USDT": ("ETHUSDT", "ETHUSDT"),
}
# CoinGecko: symbol -> coin id.
COINGECKO_IDS = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "ICP": "internet-computer",
    "USDT": "tether",
    "USDC": "usd-coin",
}


def fixture(name: str) -> bytes:
    """The bytes of ``testing/fixtures/exchanges/<name>``."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture(name), parse_float=Decimal)


def _source_of(path: str) -> str | None:
    if path.startswith("/products/") and path.endswith("/ticker"):
        return "coinbase"
    return {
        "/0/public/Ticker": "kraken",
        "/api/v3/ticker/price": "binance",
        "/api/v3/simple/price": "coingecko",
    }.get(path)


# Default bodies of injected failures, in each exchange's error format.
_FAIL_BODIES: dict[tuple[str, int], bytes] = {
    ("coinbase", 429): fixture("coinbase_error_rate_limited.json"),
    ("binance", 429): fixture("binance_error_rate_limited.json"),
    ("binance", 418): fixture("binance_error_banned.json"),
    ("binance", 451): fixture("binance_error_restricted_location.json"),
    ("coingecko", 429): fixture("coingecko_error_rate_limited.json"),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received, and the status it was answered with."""

    source: str | None
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    status: int


@dataclass
class _Price:
    text: str
    updated_at: datetime | None


class ExchangeTestServer(LocalHttpServer[RecordedRequest]):
    """Four exchanges' price endpoints on one 127.0.0.1 port.

    Use as a context manager (or ``start()``/``stop()``); ``url`` is the base URL
    for every source. Setters are thread-safe and apply to later requests.
    ``requests`` lists every request received so far, in order.
    """

    def __init__(self) -> None:
        """Prepare a server quoting nothing (not listening yet)."""
        super().__init__()
        self._prices: dict[tuple[str, str], _Price] = {}

    # ------------------------------------------------------------------ programming

    def set_price(
        self, source: str, pair: str, price: str, *, updated_at: datetime | None = None
    ) -> None:
        """Quote ``pair`` (``BTC-USD``; Binance pairs are ``*-USDT``) on ``source``.

        ``price`` is sent exactly as given (a string for Coinbase, Kraken and
        Binance, a bare JSON number for CoinGecko). ``updated_at`` is the provider
        timestamp where the format has one (Coinbase ``time``, CoinGecko
        ``last_updated_at``); None means the time of each answer.
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        Decimal(price)  # a typo in a test should fail here, not as a parse error
        with self._lock:
            self._prices[(source, pair.upper())] = _Price(price, updated_at)

    def clear_price(self, source: str, pair: str) -> None:
        with self._lock:
            self._prices.pop((source, pair.upper()), None)

    def fail(
        self,
        source: str,
        status: int,
        *,
        retry_after: str | None = None,
        body: bytes | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` requests (None: all) to ``source`` with
        ``status`` (and ``Retry-After`` when given), in the exchange's error format."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        fault = Fault(
            status=status,
            body=body,
            headers=headers,
            content_type="application/json",
            times=times,
        )
        self._add(source, fault)

    def respond_raw(
        self,
        source: str,
        body: bytes,
        *,
        status: int = 200,
        content_type: str = "application/json",
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` requests to ``source`` with exactly ``body``."""
        fault = Fault(status=status, body=body, content_type=content_type, times=times)
        self._add(source, fault)

    def kraken_error(self, *errors: str, times: int | None = 1) -> None:
        """Kraken's error answer: HTTP 200 with ``{"error": [...]}``."""
        self.respond_raw("kraken", json.dumps({"error": list(errors)}).encode(), times=times)

    def hang(self, source: str, seconds: float, *, times: int | None = 1) -> None:
        """Delay the answer to ``source`` by ``seconds`` (released early by ``stop()``)."""
        self._add(source, Fault(hang_seconds=seconds, times=times))

    def drip(self, source: str, interval: float, *, times: int | None = 1) -> None:
        """Send the answer's headers at once, then its body one byte per ``interval``."""
        self._add(source, Fault(drip_interval=interval, times=times))

    def reset(self) -> None:
        """Forget prices, faults and recorded requests."""
        super().reset()
        with self._lock:
            self._prices.clear()

    def requests_to(self, source: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.source == source]

    # ------------------------------------------------------------------ plumbing

    def _add(self, source: str, fault: Fault) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        self._add_fault(source, fault)

    def _price(self, source: str, pair: str) -> _Price | None:
        with self._lock:
            return self._prices.get((source, pair))

    def handle_get(self, h: BaseHTTPRequestHandler) -> None:
        """Answer as the exchange the path belongs to; an unknown path is 404."""
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        source = _source_of(parts.path)
        fault = self._take_fault(source) if source else None
        if fault is not None and fault.hang_seconds:
            self._hold(fault.hang_seconds)
        headers: dict[str, str] = {}
        content_type = "application/json"
        if source is None:
            status, body = 404, b'{"error":"not found"}'
        elif fault is not None and fault.status is not None:
            status = fault.status
            default = _FAIL_BODIES.get((source, status), b'{"error":"injected failure"}')
            body = default if fault.body is None else fault.body
            headers, content_type = fault.headers, fault.content_type
        else:
            status, body = self._answer(source, parts.path, query)
        self._record(
            RecordedRequest(
                source=source,
                path=parts.path,
                query=query,
                headers={k.lower(): v for k, v in h.headers.items()},
                at=time.monotonic(),
                status=status,
            )
        )
        drip = fault.drip_interval if fault is not None else 0.0
        self._send(h, status, body, content_type, headers=headers, drip=drip)

    # ------------------------------------------------------------------ the exchanges

    def _answer(self, source: str, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        if source == "coinbase":
            return self._coinbase(path.removeprefix("/products/").removesuffix("/ticker"))
        if source == "kraken":
            return self._kraken(query.get("pair", ""))
        if source == "binance":
            return self._binance(query.get("symbol"))
        return self._coingecko(query)

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)

    def _coinbase(self, product: str) -> tuple[int, bytes]:
        price = self._price("coinbase", product)
        if price is None:
            return 404, fixture("coinbase_error_not_found.json")
        body = fixture_json("coinbase_ticker_btc_usd.json")
        value = Decimal(price.text)
        tick = Decimal(1).scaleb(value.as_tuple().exponent)  # type: ignore[arg-type]
        when = price.updated_at or self._now()
        body.update(
            price=price.text,
            bid=price.text,
            ask=format(value + tick, "f"),
            time=when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
        return 200, json.dumps(body).encode()

    def _kraken(self, requested: str) -> tuple[int, bytes]:
        for pair, (altname, key) in KRAKEN_PAIRS.items():
            if requested.upper() in (altname, key):
                price = self._price("kraken", pair)
                if price is None:
                    break
                template = fixture_json("kraken_ticker_xbtusd.json")["result"]["XXBTZUSD"]
                template["c"][0] = price.text
                template["a"][0] = price.text
                template["b"][0] = price.text
                answer = {"error": [], "result": {key: template}}
                return 200, json.dumps(answer).encode()
        return 200, fixture("kraken_error_unknown_pair.json")

    def _binance(self, symbol: str | None) -> tuple[int, bytes]:
        with self._lock:
            listed = {
                pair.replace("-", ""): p.text
                for (source, pair), p in self._prices.items()
                if source == "binance"
            }
        if symbol is None:  # no symbol: every ticker, as Binance does
            rows = [{"symbol": s, "price": t} for s, t in sorted(listed.items())]
            return 200, json.dumps(rows).encode()
        if symbol not in listed:
            return 400, fixture("binance_error_invalid_symbol.json")
        return 200, json.dumps({"symbol": symbol, "price": listed[symbol]}).encode()

    def _coingecko(self, query: dict[str, str]) -> tuple[int, bytes]:
        if "ids" not in query or "vs_currencies" not in query:
            return 400, b'{"error":"Missing parameter ids or vs_currencies"}'
        wanted = [i for i in query["ids"].split(",") if i]
        vs = [v.upper() for v in query["vs_currencies"].split(",") if v]
        with_time = query.get("include_last_updated_at") == "true"
        by_id = {coin: symbol for symbol, coin in COINGECKO_IDS.items()}
        entries = []
        for coin in wanted:
            symbol = by_id.get(coin)
            if symbol is None:
                continue
            fields = []
            latest: datetime | None = None
            for currency in vs:
                price = self._price("coingecko", f"{symbol}-{currency}")
                if price is not None:
                    # Bare JSON numbers: CoinGecko does not quote its prices.
                    fields.append(f'"{currency.lower()}":{price.text}')
                    latest = price.updated_at or self._now()
            if not fields:
                continue
            if with_time and latest is not None:
                fields.append(f'"last_updated_at":{int(latest.timestamp())}')
            entries.append(f'"{coin}":{{{",".join(fields)}}}')
        return 200, ("{" + ",".join(entries) + "}").encode()
