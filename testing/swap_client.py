"""An out-of-process swap driver: real users over real HTTP, real wallets on real RPC URLs.

It drives a running server (``make run``'s devstack, ``make prod`` behind nginx, a
benchmark's or a test's server) exactly as a person's wallet and browser do, and imports no
Django: run it from any process that can reach the server and the chains.

    api = Api("http://127.0.0.1:8000")                       # verify_tls=False for make prod
    maker = Party(Api(url), anvil_key(1), {31337: RPC_A, 31338: RPC_B}).sign_in()
    taker = Party(Api(url), anvil_key(2), {31337: RPC_A, 31338: RPC_B}).sign_in()
    listing = post_listing(maker, base=asset_id(maker.api, "local-a", "ETH"),
                           quote=asset_id(maker.api, "local-b", "TEST"),
                           amount="3", price="2.5")
    swap, secret = take(taker, listing["id"], "1.5")
    timeline = drive(maker, taker, swap["id"], secret)        # until completed (or refunded)

``drive`` sends whichever party's ``next_action`` is due (approve, lock, the taker's redeem
with the secret; the maker's redeem only with ``maker_redeems``, since the relayer does it)
and records, as it sees them, each state change with its wall time and both chains' latest
block numbers; with ``follow_ws`` it also timestamps the views pushed on ``/ws/swaps/{id}/``.
``Heads`` records when each new block of a chain was first seen, so a caller can tell when a
transaction was confirmed (its block plus ``confirmations`` - 1).

The swap's API is in README "Swaps"; the fields here follow ``swaps/api/serializers.py``.
The anvil helpers (``anvil_key``, ``anvil_fund``, ``mint_test_token``) are for local chains
only: anvil's development keys are public.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

# anvil's default mnemonic ("test test ... junk"): public, local chains only.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# States after which nothing more happens to a swap's coins through the driver.
FINAL_STATES = frozenset({"completed", "refunded", "cancelled", "expired", "flagged"})
GWEI = 10**9

Account.enable_unaudited_hdwallet_features()


class ApiError(Exception):
    """A non-2xx answer: its HTTP status, the API's ``code`` (or "") and the body."""

    def __init__(self, status: int, code: str, body: Any):
        super().__init__(f"HTTP {status} {code}: {body}")
        self.status, self.code, self.body = status, code, body


class RpcError(Exception):
    """A JSON-RPC error answer, or a transaction that reverted or never got mined."""


def anvil_key(index: int) -> LocalAccount:
    """anvil's development account `index` (0 deploys, 9 relays in ``make run``)."""
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def new_secret() -> tuple[str, str]:
    """(secret, hashlock) as 0x hex, hashlock = sha256(secret), as the taker's client draws
    them; the server only ever gets the hashlock before the redeem."""
    secret = os.urandom(32)
    return "0x" + secret.hex(), "0x" + hashlib.sha256(secret).hexdigest()


# ---------------------------------------------------------------- HTTP API


class Api:
    """The server's JSON API, with the bearer token of the signed-in user.

    `base_url` is the site's root (``http://127.0.0.1:8000``); paths start with ``/api/``.
    Every method raises ApiError for a non-2xx answer."""

    def __init__(self, base_url: str, *, verify_tls: bool = True, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.verify_tls = verify_tls
        self.token = ""
        self.http = httpx.Client(base_url=self.base_url, verify=verify_tls, timeout=timeout)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _answer(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if not 200 <= response.status_code < 300:
            code = body.get("code", "") if isinstance(body, dict) else ""
            raise ApiError(response.status_code, str(code), body)
        return body

    def get(self, path: str, **params: Any) -> Any:
        return self._answer(self.http.get(path, params=params or None, headers=self._headers()))

    def post(self, path: str, body: dict | None = None) -> Any:
        return self._answer(self.http.post(path, json=body or {}, headers=self._headers()))

    def sign_in(self, key: LocalAccount, *, chain_id: int = 31337) -> dict:
        """Sign in with Ethereum (EIP-4361): ask a nonce and its message, sign the message
        with `key`, accept the terms of service (a new account must); keeps the access
        token for later calls and returns the server's answer (``access``, ``user``...)."""
        nonce = self.post("/api/v1/auth/siwe/nonce", {"address": key.address, "chain_id": chain_id})
        signature = key.sign_message(encode_defunct(text=nonce["message"])).signature.hex()
        answer = self.post(
            "/api/v1/auth/siwe/verify",
            {
                "message": nonce["message"],
                "signature": "0x" + signature.removeprefix("0x"),
                "accept_terms": True,
            },
        )
        self.token = answer["access"]
        return answer

    def close(self) -> None:
        self.http.close()


def networks(api: Api) -> dict[str, dict]:
    """``GET /api/v1/chains/`` by network name (chain_id, rpc_url, confirmations,
    block_time, htlc_address...)."""
    found = api.get("/api/v1/chains/")
    rows = found["results"] if isinstance(found, dict) else found
    return {row["name"]: row for row in rows}


def asset_id(api: Api, network: str, symbol: str) -> int:
    """The id of `symbol` on `network` from ``GET /api/v1/assets/``."""
    found = api.get("/api/v1/assets/", page_size=500)
    rows = found["results"] if isinstance(found, dict) else found
    for row in rows:
        if row["network"] == network and row["symbol"] == symbol:
            return int(row["id"])
    raise LookupError(f"no asset {symbol} on {network}")


# ---------------------------------------------------------------- chains


class Rpc:
    """A minimal JSON-RPC client for one chain (plain HTTP POST)."""

    def __init__(self, url: str, *, timeout: float = 15.0):
        self.url = url
        self.http = httpx.Client(timeout=timeout)
        self._lock = threading.Lock()  # one httpx.Client is shared by the caller's threads

    def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        with self._lock:
            payload = self.http.post(self.url, json=body).json()
        if "error" in payload:
            raise RpcError(f"{method}: {payload['error']}")
        return payload["result"]

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)


@dataclass(frozen=True)
class Receipt:
    """A mined transaction, as the wallet saw it: `sent_at`/`mined_at` are wall times
    (time.time()) of sending and of first seeing the receipt."""

    chain_id: int
    tx_hash: str
    block: int
    fee_wei: int
    sent_at: float
    mined_at: float


class Party:
    """One user: the API signed in as them, their key, and an RPC URL per chain id.

    ``send`` does what a wallet does with a ``next_action``: checks the chain and the sender,
    fills in nonce, gas and fees, signs with the key, sends to that chain's RPC and waits for
    the receipt. One Party sends one transaction at a time (nonces come from the node)."""

    def __init__(self, api: Api, key: LocalAccount, rpc_urls: dict[int, str]):
        self.api, self.key = api, key
        self.rpcs = {chain_id: Rpc(url) for chain_id, url in rpc_urls.items()}
        self._sending = threading.Lock()
        # One swap's steps at a time (``drive``): an approve sets the allowance, so another
        # swap's approve between this swap's approve and lock would leave its lock short.
        self.acting = threading.Lock()

    @property
    def address(self) -> str:
        return self.key.address

    def sign_in(self) -> Party:
        self.api.sign_in(self.key)
        return self

    def send(self, action: dict, *, receipt_timeout: float = 60.0) -> Receipt:
        """Sign and send the transaction of `action` (``chain_id``, ``to``, ``data``,
        ``value`` and optionally ``from``); returns once it is mined.

        Raises ValueError for a chain this party has no RPC for or a ``from`` that is not
        its key; RpcError when the node refuses it, it reverts or it is not mined in time."""
        chain_id = int(action["chain_id"])
        if chain_id not in self.rpcs:
            raise ValueError(f"no RPC URL for chain {chain_id}")
        sender = action.get("from")
        if sender and sender.lower() != self.address.lower():
            raise ValueError(f"the step must come from {sender}, not {self.address}")
        return self.transact(
            chain_id,
            action["to"],
            action.get("data") or "0x",
            int(action["value"]),
            receipt_timeout=receipt_timeout,
        )

    def transact(
        self, chain_id: int, to: str, data: str, value: int = 0, *, receipt_timeout: float = 60.0
    ) -> Receipt:
        """Sign and send one transaction from this party's key; wait until it is mined."""
        rpc = self.rpcs[chain_id]
        with self._sending:
            tx: dict[str, Any] = {
                "from": self.address,
                "to": to,
                "data": data,
                "value": value,
                "chainId": chain_id,
                "nonce": int(rpc.call("eth_getTransactionCount", self.address, "pending"), 16),
            }
            base_fee = int(rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
            tx["maxPriorityFeePerGas"] = GWEI
            tx["maxFeePerGas"] = 2 * base_fee + GWEI
            # A margin, as wallets add one: the estimate is taken against the latest block,
            # and a storage slot another transaction of the same block empties (the HTLC's
            # token balance) costs ~17,000 more to fill again than the estimate saw.
            estimate = int(rpc.call("eth_estimateGas", _hex_tx(tx)), 16)
            tx["gas"] = estimate + estimate // 4
            raw = self.key.sign_transaction(tx).raw_transaction
            sent_at = time.time()
            tx_hash = rpc.call("eth_sendRawTransaction", "0x" + raw.hex().removeprefix("0x"))
        deadline = time.monotonic() + receipt_timeout
        while (found := rpc.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.monotonic() > deadline:
                raise RpcError(f"{tx_hash} not mined within {receipt_timeout} s")
            time.sleep(0.05)
        mined_at = time.time()
        if int(found["status"], 16) != 1:
            raise RpcError(f"{tx_hash} reverted")
        fee = int(found["gasUsed"], 16) * int(found["effectiveGasPrice"], 16)
        return Receipt(chain_id, tx_hash, int(found["blockNumber"], 16), fee, sent_at, mined_at)

    def redeem(self, action: dict, secret: str) -> Receipt:
        """The taker's redeem: ``redeem(lock_id, secret)`` encoded here (the server never has
        the secret before it is public), sent to the action's ``to``."""
        data = _call("redeem(bytes32,bytes32)", _word(action["lock_id"]), _word(secret))
        return self.send({**action, "data": data})


def _hex_tx(tx: dict) -> dict:
    return {
        "from": tx["from"],
        "to": tx["to"],
        "data": tx["data"],
        "value": hex(tx["value"]),
    }


def _word(value: str | int) -> bytes:
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    raw = bytes.fromhex(value.removeprefix("0x"))
    return raw.rjust(32, b"\0")


def _call(signature: str, *words: bytes) -> str:
    return "0x" + (keccak(text=signature)[:4] + b"".join(words)).hex()


def anvil_fund(rpc_url: str, address: str, wei: int) -> None:
    """Set `address`'s native balance on a local anvil (``anvil_setBalance``)."""
    Rpc(rpc_url).call("anvil_setBalance", address, hex(wei))


def mint_test_token(party: Party, chain_id: int, token: str, to: str, units: int) -> Receipt:
    """Mint `units` (base units) of the local test token to `to` (its ``mint`` is open on
    local chains; see chains/contracts/TestToken.vy), sent by `party`."""
    data = _call("mint(address,uint256)", _word(to), _word(units))
    return party.transact(chain_id, token, data)


class Heads:
    """When each new block of each chain was first seen (wall time), by polling
    ``eth_blockNumber`` every `interval` seconds in a thread: the chains' own clock, which
    the driver's figures are measured against. Use as a context manager."""

    def __init__(self, rpc_urls: dict[int, str], *, interval: float = 0.05):
        self.rpcs = {chain_id: Rpc(url, timeout=5) for chain_id, url in rpc_urls.items()}
        self.interval = interval
        self.seen: dict[int, dict[int, float]] = {chain_id: {} for chain_id in rpc_urls}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Heads:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            for chain_id, rpc in self.rpcs.items():
                try:
                    number = rpc.block_number()
                except (httpx.HTTPError, RpcError):
                    continue
                blocks = self.seen[chain_id]
                # Blocks skipped between two polls are stamped with the poll that found them.
                last = max(blocks) if blocks else number - 1
                for n in range(last + 1, number + 1):
                    blocks[n] = now
            self._stop.wait(self.interval)

    def latest(self) -> dict[int, int]:
        return {c: max(blocks) if blocks else -1 for c, blocks in self.seen.items()}

    def seen_at(self, chain_id: int, block: int, *, timeout: float = 30.0) -> float:
        """When `block` of `chain_id` was first seen; waits for it up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while block not in self.seen[chain_id]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"block {block} of chain {chain_id} not seen")
            time.sleep(self.interval / 2)
        return self.seen[chain_id][block]


# ---------------------------------------------------------------- the trade


def post_listing(
    maker: Party,
    *,
    base: int,
    quote: int,
    amount: str,
    price: str,
    min_trade: str | None = None,
    max_trade: str | None = None,
) -> dict:
    """The maker sells `amount` of asset `base` for asset `quote` at a fixed `price`
    (quote per base), paid to and refunded to their own address; returns the listing."""
    return maker.api.post(
        "/api/v1/listings/",
        {
            "base_asset": base,
            "quote_asset": quote,
            "amount": amount,
            "min_trade": min_trade or amount,
            "max_trade": max_trade or amount,
            "price": price,
            "payout_address": maker.address,
            "refund_address": maker.address,
        },
    )


def take(taker: Party, listing_id: int, amount: str) -> tuple[dict, str]:
    """The taker draws a secret and takes `amount` of the listing with its hashlock;
    returns (the created swap with its ``next_action``, the secret)."""
    secret, hashlock = new_secret()
    swap = taker.api.post(
        "/api/v1/swaps/",
        {
            "listing": listing_id,
            "amount": amount,
            "hashlock": hashlock,
            "taker_address": taker.address,
        },
    )
    return swap, secret


@dataclass(frozen=True)
class Seen:
    """One state change as the driver saw it: the state, the wall time, each chain's latest
    block number then (or the chains Heads did not know: absent), and where it was seen
    ("api" or "ws")."""

    state: str
    at: float
    blocks: dict[int, int]
    via: str = "api"


@dataclass
class Timeline:
    """What ``drive`` saw and did: state changes (from the API and, if followed, the
    WebSocket), the transactions each party sent by step, and the final view."""

    swap_id: str
    seen: list[Seen] = field(default_factory=list)
    pushed: list[Seen] = field(default_factory=list)
    sent: dict[str, Receipt] = field(default_factory=dict)  # "taker:lock" -> its receipt
    final: dict = field(default_factory=dict)

    def first(self, state: str, *, via: str = "api") -> Seen | None:
        for seen in self.seen if via == "api" else self.pushed:
            if seen.state == state:
                return seen
        return None


class _Follow:
    """A thread reading ``/ws/swaps/{id}/`` and stamping each new state pushed."""

    def __init__(self, api: Api, swap_id: str, heads: Heads | None, into: list[Seen]):
        from websockets.sync.client import connect

        parts = urlsplit(api.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        ssl_context = None
        if scheme == "wss" and not api.verify_tls:
            import ssl

            ssl_context = ssl.create_default_context()
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        self.socket = connect(
            f"{scheme}://{parts.netloc}/ws/swaps/{swap_id}/",
            additional_headers={"Authorization": f"Bearer {api.token}"},
            origin=f"{parts.scheme}://{parts.netloc}",  # type: ignore[arg-type]
            ssl=ssl_context,
            open_timeout=30,
        )
        self.heads, self.into = heads, into
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        last = None
        try:
            for text in self.socket:
                now = time.time()
                message = json.loads(text)
                state = (message.get("swap") or {}).get("state")
                if message.get("type") == "swap" and state and state != last:
                    last = state
                    blocks = self.heads.latest() if self.heads else {}
                    self.into.append(Seen(state, now, blocks, "ws"))
        except Exception:  # noqa: S110 (closed by close(), or the server went away)
            pass

    def close(self) -> None:
        self.socket.close()
        self.thread.join(timeout=5)


def drive(
    maker: Party,
    taker: Party,
    swap_id: str,
    secret: str,
    *,
    timeout: float = 300.0,
    poll: float = 0.25,
    heads: Heads | None = None,
    follow_ws: bool = False,
    ws_linger: float = 5.0,
    maker_redeems: bool = False,
    on_change: Callable[[Seen], None] | None = None,
) -> Timeline:
    """Read the swap every `poll` seconds and send whichever party's ``next_action`` is due,
    until the swap reaches a final state (completed, refunded, cancelled, expired, flagged).

    The taker approves and locks, the maker approves and locks, the taker redeems with
    `secret`; the maker's redeem of the taker's lock is left to the relayer unless
    `maker_redeems`. Refunds are the relayer's too. Each state change is recorded with the
    wall time and (with `heads`) both chains' latest blocks; `follow_ws` also records the
    states pushed on the swap's WebSocket (as the taker), waiting up to `ws_linger` s after
    the end for the final state's push. Raises TimeoutError after
    `timeout` seconds, ApiError/RpcError when a call fails."""
    timeline = Timeline(str(swap_id))
    follower = _Follow(taker.api, swap_id, heads, timeline.pushed) if follow_ws else None
    path = f"/api/v1/swaps/{swap_id}/"
    deadline = time.monotonic() + timeout
    done: set[tuple[str, str, str]] = set()  # (role, action, state) already sent
    try:
        while True:
            view = taker.api.get(path)
            state = view["state"]
            if not timeline.seen or timeline.seen[-1].state != state:
                seen = Seen(state, time.time(), heads.latest() if heads else {})
                timeline.seen.append(seen)
                if on_change:
                    on_change(seen)
            if state in FINAL_STATES:
                timeline.final = view
                # The push of the final state may trail the API's answer: give it a moment.
                linger = time.monotonic() + ws_linger
                while follower and time.monotonic() < linger:
                    if timeline.pushed and timeline.pushed[-1].state == state:
                        break
                    time.sleep(0.05)
                return timeline
            acted = _turn(taker, "taker", path, view, secret, done, timeline)
            if state == "taker_locked" or (maker_redeems and state == "secret_revealed"):
                acted |= _turn(maker, "maker", path, None, secret, done, timeline)
            if time.monotonic() > deadline:
                raise TimeoutError(f"swap {swap_id} still {state} after {timeout} s")
            if not acted:
                time.sleep(poll)
    finally:
        if follower:
            follower.close()


def _turn(
    party: Party,
    role: str,
    path: str,
    view: dict | None,
    secret: str,
    done: set[tuple[str, str, str]],
    timeline: Timeline,
) -> bool:
    """`party`'s due steps in this swap, holding the party's turn: an approve is followed at
    once by the lock it is for, before another swap of the same party may approve. `view`
    is the swap as just read by this party, or None to read it in turn (a party with
    several swaps at once must read in turn)."""
    with party.acting:
        acted = False
        while True:
            sent = _act(party, role, view or party.api.get(path), secret, done, timeline)
            acted |= bool(sent)
            if sent != "approve":
                return acted
            view = None


def _act(
    party: Party,
    role: str,
    view: dict,
    secret: str,
    done: set[tuple[str, str, str]],
    timeline: Timeline,
) -> str:
    """Send `party`'s next step if it is a transaction not yet sent in this state; the
    action sent, or ""."""
    step = view["next_action"]
    action = step["action"]
    if action not in ("approve", "lock", "redeem"):
        return ""
    key = (role, action, view["state"])
    if key in done:
        return ""
    done.add(key)
    try:
        if action == "redeem" and step.get("function") == "redeem" and "data" not in step:
            receipt = party.redeem(step, secret)
        else:
            receipt = party.send(step)
    except RpcError as exc:
        raise RpcError(f"{role} {action} in state {view['state']}: {exc}") from exc
    timeline.sent[f"{role}:{action}"] = receipt
    return action
