"""The load scenario of issue #19: people browsing, traders signing in with SIWE, listing and
taking, and clients holding the live sockets open.

    locust -f bench/load/locustfile.py --host https://127.0.0.1:8443 --headless -u 20 -r 5 -t 30s

(``make load`` starts a stack and runs this; ``bench/load/run.py --target URL`` aims it at a
running one.) Three kinds of user, by weight:

* ``Browser`` (6): the home page, the markets, a pair's offer book, a market, a listing, the
  offer book API by pair and the prices API; no account.
* ``Trader`` (3): signs in once with SIWE (its own new key signs the real EIP-4361
  message), then publishes listings, takes other people's (``POST /api/v1/swaps/``; the
  taker cancels each swap it made, as a taker who changed their mind before locking,
  which keeps it under the per-taker caps), and reads its swaps.
* ``SocketHolder`` (1): signs in, takes one listing, and holds ``/ws/prices/`` and its swap's
  ``/ws/swaps/{id}/`` open, counting what they send (``WS`` rows, one per message).

Requests are named by endpoint template (``/api/v1/listings/?pair=[pair]``) so the figures
group per endpoint. Any 5xx is a failure whose message starts with ``5xx``; a connection
error or an unexpected status is a failure too. A take refused with a stable code the
scenario expects (the listing emptied by another taker, the taker's caps, stale prices) is a success
named ``POST /api/v1/swaps/ [refused: <code>]``: the app said no as designed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import random
import secrets
import ssl
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from locust import FastHttpUser, between, events, task
from locust.env import Environment
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bench.load.keys import FUNDED_ENV, KEY_SEED_ENV, key_bytes

logger = logging.getLogger(__name__)

# Refusals of a take that are the app working as designed under concurrent takers.
EXPECTED_TAKE_REFUSALS = {
    "too_many_unlocked_swaps",  # the taker's caps (SWAP_MAX_UNLOCKED_PER_USER, ..._OPEN_...)
    "too_many_open_swaps",
    "listing_not_found",  # another taker emptied or the maker closed it
    "listing_unavailable",
    "insufficient_remaining",
    # The oracle's prices went stale (its worker fell behind): its own row says how often.
    "pair_halted",
    # Only against a --target stack, whose chains run.py cannot fund the wallets on.
    "insufficient_balance",
}
CHAIN_ID = 31337  # the SIWE message's chain (local-a)
RECV_SECONDS = 1.0
# With run.py's seed, user n signs with the n-th funded key (modulo how many it funded).
KEY_SEED = os.environ.get(KEY_SEED_ENV, "")
FUNDED = int(os.environ.get(FUNDED_ENV, "0"))
NUMBERS = itertools.count()


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the stack's own self-signed certificate
    return context


@dataclass
class Catalogue:
    """What there is to browse and take, read once when the test starts (not timed)."""

    pairs: list[str] = field(default_factory=list)  # oracle pairs: ETH-TEST
    markets: list[tuple[str, str]] = field(default_factory=list)  # (ETH@local-a, TEST@local-b)
    assets: dict[tuple[str, str], int] = field(default_factory=dict)  # (symbol, network) -> id
    listings: list[dict[str, Any]] = field(default_factory=list)  # id, min_trade, maker
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_listing(self, listing: dict[str, Any]) -> None:
        with self.lock:
            self.listings.append(_takeable(listing))
            del self.listings[:-5000]  # the newest few thousand are plenty to pick from

    def listing_to_take(self, user_id: int | None) -> dict[str, Any] | None:
        for _ in range(10):
            listing = random.choice(self.listings)
            if listing["maker"] != user_id:
                return listing
        return None


CATALOGUE = Catalogue()


def _takeable(listing: dict[str, Any]) -> dict[str, Any]:
    return {"id": listing["id"], "min_trade": listing["min_trade"], "maker": listing["maker"]["id"]}


def _read(host: str, path: str) -> Any:
    request = urllib.request.Request(host + path, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, context=_tls(), timeout=30) as response:  # noqa: S310
        return json.load(response)


def _rows(page: Any) -> list[dict[str, Any]]:
    return page["results"] if isinstance(page, dict) else page


@events.test_start.add_listener
def discover(environment: Environment, **_: Any) -> None:
    """Fill CATALOGUE from the target's API: assets, markets, pairs, some listings."""
    host = (environment.host or "").rstrip("/")
    assets = _rows(_read(host, "/api/v1/assets/?page_size=100"))
    CATALOGUE.assets = {(a["symbol"], a["network"]): a["id"] for a in assets}
    labels = [f"{a['symbol']}@{a['network']}" for a in assets]
    CATALOGUE.markets = [(b, q) for b in labels for q in labels if b != q]
    symbols = sorted({a["symbol"] for a in assets})
    CATALOGUE.pairs = [f"{b}-{q}" for b in symbols for q in symbols if b != q]
    for pair in CATALOGUE.pairs:
        for row in _rows(_read(host, f"/api/v1/listings/?pair={pair}&page_size=100")):
            CATALOGUE.listings.append(_takeable(row))
    if not CATALOGUE.listings:
        raise RuntimeError(f"{host} lists no listings to browse and take: seed some first")
    logger.info(
        "catalogue: %d assets, %d markets, %d listings",
        len(assets),
        len(CATALOGUE.markets),
        len(CATALOGUE.listings),
    )


def check(response: Any, *, ok: tuple[int, ...] = (200,)) -> None:
    """Mark a catch_response response: 5xx, no answer and unexpected statuses fail."""
    status = response.status_code
    if status >= 500:
        response.failure(f"5xx {status}: {(response.text or '')[:300]}")
    elif status == 0:
        response.failure(f"no answer: {response.error}")
    elif status not in ok:
        response.failure(f"unexpected {status}: {(response.text or '')[:300]}")
    else:
        response.success()


def _code(response: Any) -> str:
    try:
        return str(response.json().get("code", ""))
    except (ValueError, AttributeError):
        return ""


def _ws_event(environment: Environment, name: str, started: float, error: Exception | None):
    environment.events.request.fire(
        request_type="WS",
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=0,
        exception=error,
        context={},
    )


class Browser(FastHttpUser):
    """Someone looking around without an account."""

    weight = 6
    wait_time = between(1, 3)

    def _get(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as response:
            check(response)

    @task(1)
    def home(self) -> None:
        self._get("/", "/")

    @task(2)
    def markets(self) -> None:
        self._get("/market/", "/market/")

    @task(2)
    def book(self) -> None:
        pair = random.choice(CATALOGUE.pairs)
        self._get(f"/market/{pair}/", "/market/[pair]/")

    @task(3)
    def market(self) -> None:
        base, quote = random.choice(CATALOGUE.markets)
        self._get(f"/market/{base}/{quote}/", "/market/[base]/[quote]/")

    @task(3)
    def listing(self) -> None:
        listing = random.choice(CATALOGUE.listings)
        self._get(f"/listings/{listing['id']}/", "/listings/[id]/")

    @task(4)
    def listings_api(self) -> None:
        pair = random.choice(CATALOGUE.pairs)
        self._get(f"/api/v1/listings/?pair={pair}", "/api/v1/listings/?pair=[pair]")

    @task(3)
    def prices_api(self) -> None:
        self._get("/api/v1/prices/", "/api/v1/prices/")


class SignedIn(FastHttpUser):
    """A user with its own key, signed in by SIWE once (on start)."""

    abstract = True

    def on_start(self) -> None:
        n = next(NUMBERS)
        self.key = (
            Account.from_key(key_bytes(KEY_SEED, n % FUNDED))
            if KEY_SEED and FUNDED
            else Account.create()
        )
        self.user_id: int | None = None
        self.access = ""
        with self.client.post(
            "/api/v1/auth/siwe/nonce",
            json={"address": self.key.address, "chain_id": CHAIN_ID},
            name="/api/v1/auth/siwe/nonce",
            catch_response=True,
        ) as response:
            check(response, ok=(201,))
            message = response.json()["message"] if response.status_code == 201 else None
        if message is None:
            return
        signed = self.key.sign_message(encode_defunct(text=message))
        with self.client.post(
            "/api/v1/auth/siwe/verify",
            json={
                "message": message,
                "signature": "0x" + signed.signature.hex(),
                "accept_terms": True,
            },
            name="/api/v1/auth/siwe/verify",
            catch_response=True,
        ) as response:
            check(response)
            if response.status_code == 200:
                body = response.json()
                self.access = body["access"]
                self.user_id = (body.get("user") or {}).get("id")

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def take(self) -> str | None:
        """POST /api/v1/swaps/ on another user's listing; the new swap's id, or None."""
        listing = CATALOGUE.listing_to_take(self.user_id)
        if listing is None or not self.access:
            return None
        hashlock = "0x" + hashlib.sha256(secrets.token_bytes(32)).hexdigest()
        body = {
            "listing": listing["id"],
            "amount": listing["min_trade"],
            "hashlock": hashlock,
            "taker_address": self.key.address,
        }
        with self.client.post(
            "/api/v1/swaps/",
            json=body,
            headers=self.auth,
            name="POST /api/v1/swaps/",
            catch_response=True,
        ) as response:
            code = _code(response)
            if 400 <= response.status_code < 500 and code in EXPECTED_TAKE_REFUSALS:
                response.request_meta["name"] = f"POST /api/v1/swaps/ [refused: {code}]"
                response.success()
                return None
            check(response, ok=(201,))
            return response.json()["id"] if response.status_code == 201 else None


class Trader(SignedIn):
    """Publishes listings, takes other people's, reads its swaps."""

    weight = 3
    wait_time = between(2, 5)

    @task(2)
    def create_listing(self) -> None:
        if not self.access:
            return
        base = CATALOGUE.assets.get(("ETH", "local-a"))
        quote = CATALOGUE.assets.get(("TEST", "local-b"))
        if base is None or quote is None:
            return
        price = f"{2000 * random.uniform(0.985, 1.015):.2f}"
        with self.client.post(
            "/api/v1/listings/",
            json={
                "base_asset": base,
                "quote_asset": quote,
                "amount": "1",
                "min_trade": "0.005",
                "max_trade": "1",
                "price": price,
                "payout_address": self.key.address,
                "refund_address": self.key.address,
            },
            headers=self.auth,
            name="POST /api/v1/listings/",
            catch_response=True,
        ) as response:
            check(response, ok=(201,))
            if response.status_code == 201:
                CATALOGUE.add_listing(response.json())

    @task(3)
    def take_and_cancel(self) -> None:
        swap_id = self.take()
        if swap_id is None:
            return
        with self.client.get(
            f"/api/v1/swaps/{swap_id}/",
            headers=self.auth,
            name="/api/v1/swaps/[id]/",
            catch_response=True,
        ) as response:
            check(response)
        with self.client.post(
            f"/api/v1/swaps/{swap_id}/cancel",
            headers={**self.auth, "Idempotency-Key": str(uuid.uuid4())},
            name="POST /api/v1/swaps/[id]/cancel",
            catch_response=True,
        ) as response:
            check(response)

    @task(2)
    def my_swaps(self) -> None:
        if not self.access:
            return
        with self.client.get(
            "/api/v1/swaps/", headers=self.auth, name="/api/v1/swaps/", catch_response=True
        ) as response:
            check(response)

    @task(2)
    def browse_book(self) -> None:
        pair = random.choice(CATALOGUE.pairs)
        with self.client.get(
            f"/api/v1/listings/?pair={pair}",
            headers=self.auth,
            name="/api/v1/listings/?pair=[pair]",
            catch_response=True,
        ) as response:
            check(response)


class SocketHolder(SignedIn):
    """Holds the prices socket and its own swap's socket open, counting messages."""

    weight = 1
    wait_time = between(1, 2)

    def on_start(self) -> None:
        super().on_start()
        self.swap_id = self.take()
        self.sockets: dict[str, ClientConnection] = {}

    def on_stop(self) -> None:
        for socket_ in self.sockets.values():
            socket_.close()

    def _open(self, name: str, path: str, subprotocols: list[str] | None = None) -> None:
        host = self.host or ""
        base = host.replace("https://", "wss://").replace("http://", "ws://")
        started = time.perf_counter()
        try:
            self.sockets[name] = connect(
                base + path,
                ssl=_tls() if base.startswith("wss") else None,
                origin=host,  # type: ignore[arg-type]
                subprotocols=subprotocols,  # type: ignore[arg-type]
                open_timeout=15,
                # The server pings; a CPU-starved load client must not time itself out.
                ping_interval=None,
            )
        except Exception as exc:  # any refusal or error of the handshake is a failure
            _ws_event(self.environment, f"{name} [connect]", started, exc)
            return
        _ws_event(self.environment, f"{name} [connect]", started, None)

    @task
    def hold(self) -> None:
        if "/ws/prices/" not in self.sockets:
            self._open("/ws/prices/", "/ws/prices/")
        if self.swap_id and "/ws/swaps/[id]/" not in self.sockets:
            self._open("/ws/swaps/[id]/", f"/ws/swaps/{self.swap_id}/", ["bearer", self.access])
        for name, socket_ in list(self.sockets.items()):
            try:
                socket_.recv(timeout=RECV_SECONDS)
            except TimeoutError:
                continue
            except ConnectionClosed as exc:
                # The server closed a socket the client meant to hold: a failure, then reopen.
                del self.sockets[name]
                _ws_event(self.environment, f"{name} [closed]", time.perf_counter(), exc)
                continue
            # One row per message received; its time is not a latency (0 ms).
            _ws_event(self.environment, f"{name} [message]", time.perf_counter(), None)
