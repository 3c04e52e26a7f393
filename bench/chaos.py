"""`make chaos SWAPS=N`: swaps through the public API while processes are killed, PostgreSQL
and Redis restart and a chain's RPC is cut; then every outcome is checked from the chains.

    .venv/bin/python bench/chaos.py --swaps 100            # or: make chaos SWAPS=100

It starts, in a scratch folder ``/tmp/chaos-*`` on free ports and apart from the machine's
own services (which it never touches): a PostgreSQL cluster of its own (``initdb``, run as
the ``postgres`` user when this runs as root), a Redis server of its own, two anvils
(local-a, local-b, 1 s blocks), a proxy in front of local-b's RPC (``chains.tests.support.
RpcProxy``, the platform's RPC provider; the users' wallets reach the chain directly), a
local exchange server for the oracle, and ``make prod`` (nginx, ``--web`` web processes,
``--workers`` Celery workers, the beat, under supervisor) as ``make load`` starts it
(bench/load/run.py).

Then rounds run, ``--parallel`` at a time, until ``--swaps`` swaps exist: in a round a
maker with a fresh key lists TEST on local-a for TEST on local-b, room for two swaps; three
takers with fresh keys race to take one each (one must be refused); both swaps are driven
to their end through the API by ``testing/swap_client.py`` (the taker locks, the maker
locks, the taker redeems; the relayer redeems for the maker, or refunds). Clients behave as
real ones: a refused connection or a 500/502/503/504 is retried with back-off, money-moving
POSTs with the same ``Idempotency-Key``. Meanwhile:

- a monkey ``SIGKILL``s a random running web process, chain or mail worker or the beat
  (its whole process tree, as an OOM kill or a lost container does) every ``--kill-every``
  seconds on average, choosing among those up at least ``--min-uptime`` seconds (a process
  killed before it finished starting only shows how long starting takes); supervisor
  restarts it;
- PostgreSQL restarts once (``pg_ctl restart -m fast``: every connection dropped), Redis
  restarts once (it keeps nothing on disk: the broker's queues, the cache, the channel
  layer and the beat's lock are lost), and local-b's RPC is cut for ``--cut-seconds``
  (each connection closed unanswered), each at its moment (``--postgres-at``,
  ``--redis-at``, ``--cut-at``, seconds after the first swap is created).

When every round is done, the monkey stops and the run waits (up to ``--settle``) for each
lock on the chains to be redeemed or refunded. Then it checks, from the chains' logs and
balances (the database only to map swaps to their locks and to read what the watcher and
the relayer stored):

- every swap is completed (both locks redeemed) or refunded (every lock refunded), or ended
  before any lock; none is flagged or left open;
- every lock holds exactly the agreed amount for the agreed recipient, and every party's
  token balance on each chain equals what was minted to it plus what the locks paid it
  minus what it locked, to the base unit; the HTLCs hold nothing; the relayer holds none of
  the users' tokens;
- no maker locked more than its listing offered;
- every HTLC event on the chains is stored exactly once (none missing, none twice);
- no relayer nonce is used by two stored transactions, and every transaction the relayer
  sent on a chain is one it stored.

The last line is ``chaos: N swaps, K kills, V violations``; exit status 0 when V is 0 and
every fault happened while swaps were in flight. The stack's logs go to ``var/chaos/``.
"""

from __future__ import annotations

import argparse
import collections
import getpass
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import keccak

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import load, machine  # noqa: E402 (after the path change)
from bench.load.run import stack  # noqa: E402
from chains.anvil import free_port, start_anvil  # noqa: E402
from chains.tests.support import RpcProxy  # noqa: E402
from ops.tests.support import kill_tree, supervisor_status  # noqa: E402
from testing.swap_client import (  # noqa: E402
    Api,
    ApiError,
    Party,
    Rpc,
    anvil_fund,
    asset_id,
    drive,
    mint_test_token,
    post_listing,
    take,
)

OUT = ROOT / "var" / "chaos"
BASE, QUOTE = "local-a", "local-b"  # makers sell TEST on local-a for TEST on local-b
CHAIN_IDS = {BASE: 31337, QUOTE: 31338}
CUT_NETWORK = QUOTE  # the chain whose RPC the platform loses for a while
AMOUNT = 5  # TEST per swap, at price 1
UNITS = AMOUNT * 10**6  # TEST has 6 decimals
SWAPS_PER_ROUND = 2  # a listing has room for two swaps; three takers race for them
TAKERS_PER_ROUND = 3
FUND_WEI = 10 * 10**18
# The programs the monkey kills (supervisor's names start so); nginx is left alone.
VICTIMS = ("web:", "worker-chain:", "worker-mail", "follower", "beat")
RETRIED_STATUS = frozenset({500, 502, 503, 504})
# Refusals a client waits out, as the API documents them retryable: the oracle's price
# is briefly unavailable while its sources or Redis come back.
WAITED_CODES = frozenset({"pair_unpriced", "pair_halted", "price_unavailable"})
TOPIC_LOCKED = (
    "0x" + keccak(text="Locked(bytes32,address,address,address,uint256,bytes32,uint256)").hex()
)
TOPIC_REDEEMED = "0x" + keccak(text="Redeemed(bytes32,bytes32)").hex()
TOPIC_REFUNDED = "0x" + keccak(text="Refunded(bytes32)").hex()
EVENT_NAMES = {TOPIC_LOCKED: "Locked", TOPIC_REDEEMED: "Redeemed", TOPIC_REFUNDED: "Refunded"}
BALANCE_OF = keccak(text="balanceOf(address)")[:4]
OPEN_STATES = frozenset({"created", "taker_locked", "maker_locked", "secret_revealed"})


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- services of its own


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them off PATH)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of this run's own: created, restarted and removed by it."""

    def __init__(self, folder: Path):
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise SystemExit("chaos needs PostgreSQL's server programs (initdb, pg_ctl)")
        self.bin, self.dir, self.port = bin_dir, folder / "pgdata", free_port()
        self.dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        user = "postgres" if os.geteuid() == 0 else getpass.getuser()
        self.url = f"postgres://{user}@127.0.0.1:{self.port}/chaos"
        self._run(str(self.bin / "initdb"), "-D", str(self.dir), "-A", "trust", "-E", "UTF8")
        self.start()
        self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "chaos"
        )

    def _run(self, *argv: str) -> None:
        done = subprocess.run(_as_postgres(list(argv)), capture_output=True, text=True)  # noqa: S603
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)}: {done.stdout}{done.stderr}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        log_file = str(self.dir / "server.log")
        self._run(
            str(self.bin / "pg_ctl"),
            action,
            "-D",
            str(self.dir),
            "-w",
            "-l",
            log_file,
            "-o",
            options,
            *extra,
        )

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        except SystemExit:
            pass

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()


class PrivateRedis:
    """A Redis server of this run's own; it keeps nothing on disk, so a restart loses all."""

    def __init__(self, folder: Path):
        self.port, self.folder = free_port(), folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("chaos needs redis-server")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


# ---------------------------------------------------------------- patient clients


@dataclass
class HttpStats:
    """What the clients met: retried answers and connection errors, by kind."""

    seen: collections.Counter = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, kind: str, detail: str = "") -> None:
        with self.lock:
            self.seen[kind] += 1
            if kind == "500" and len(self.errors) < 20:
                self.errors.append(detail[:300])


class PatientApi(Api):
    """The API as a careful client uses it: a refused connection, a timeout or a 5xx is
    retried with back-off for up to `patience` seconds; each POST carries an
    ``Idempotency-Key``, the same on every retry, so a retried swap is created once."""

    def __init__(self, base_url: str, stats: HttpStats, *, patience: float = 300.0):
        super().__init__(base_url, verify_tls=False, timeout=30.0)
        self.stats, self.patience = stats, patience

    def _patiently(self, what: str, send: Callable[[], httpx.Response]) -> Any:
        deadline, delay = time.monotonic() + self.patience, 0.5
        while True:
            try:
                response = send()
            except httpx.TransportError as exc:
                self.stats.count(type(exc).__name__)
            else:
                if response.status_code not in RETRIED_STATUS:
                    return self._answer(response)
                self.stats.count(str(response.status_code), f"{what}: {response.text}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: no answer within {self.patience:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def get(self, path: str, **params: Any) -> Any:
        return self._patiently(
            f"GET {path}",
            lambda: self.http.get(path, params=params or None, headers=self._headers()),
        )

    def post(self, path: str, body: dict | None = None) -> Any:
        key = str(uuid.uuid4())
        return self._patiently(
            f"POST {path}",
            lambda: self.http.post(
                path, json=body or {}, headers={**self._headers(), "Idempotency-Key": key}
            ),
        )


def _waiting(call: Callable[[], Any], patience: float = 300.0) -> Any:
    """`call()`, waiting out the refusals the API documents as retryable (WAITED_CODES)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return call()
        except ApiError as exc:
            if exc.code not in WAITED_CODES or time.monotonic() > deadline:
                raise
            time.sleep(2)


def _signed_in(party: Party) -> Party:
    """Sign in by SIWE; a verify whose answer was lost (the nonce is spent) starts over."""
    for _ in range(4):
        try:
            party.api.sign_in(party.key)
            return party
        except ApiError:
            time.sleep(1)
    party.api.sign_in(party.key)
    return party


# ---------------------------------------------------------------- the rounds


@dataclass
class Ledger:
    """What the run did that the checks compare the chains with."""

    minted: collections.Counter = field(default_factory=collections.Counter)  # (chain, addr)
    listings: dict[str, int] = field(default_factory=dict)  # maker address -> units offered
    parties: set[tuple[int, str]] = field(default_factory=set)  # (chain id, address)
    refused_takes: collections.Counter = field(default_factory=collections.Counter)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Rounds:
    def __init__(self, base: str, rpc_urls: dict[int, str], stats: HttpStats, ledger: Ledger):
        self.base, self.rpc_urls, self.stats, self.ledger = base, rpc_urls, stats, ledger
        api = PatientApi(base, stats)
        found = api.get("/api/v1/assets/", page_size=500)
        rows = found["results"] if isinstance(found, dict) else found
        self.tokens = {r["network"]: r["address"] for r in rows if r["symbol"] == "TEST"}
        self.assets = {n: asset_id(api, n, "TEST") for n in (BASE, QUOTE)}
        api.close()
        self.driving = 0  # swaps created, not ended
        self.started = threading.Event()  # the first round began
        self.first_swap = threading.Event()  # the first take was accepted

    def party(self) -> Party:
        party = Party(PatientApi(self.base, self.stats), Account.create(), self.rpc_urls)
        for chain_id in CHAIN_IDS.values():
            anvil_fund(self.rpc_urls[chain_id], party.address, FUND_WEI)
            with self.ledger.lock:
                self.ledger.parties.add((chain_id, party.address))
        return _signed_in(party)

    def mint(self, party: Party, network: str, units: int) -> None:
        chain_id = CHAIN_IDS[network]
        mint_test_token(party, chain_id, self.tokens[network], party.address, units)
        with self.ledger.lock:
            self.ledger.minted[(chain_id, party.address)] += units

    def run(self, number: int) -> None:
        """One round: a listing with room for two swaps, three takers racing, both swaps
        driven to their end."""
        maker = self.party()
        takers = [self.party() for _ in range(TAKERS_PER_ROUND)]
        self.mint(maker, BASE, SWAPS_PER_ROUND * UNITS)
        for taker in takers:
            self.mint(taker, QUOTE, UNITS)
        listing = _waiting(
            lambda: post_listing(
                maker,
                base=self.assets[BASE],
                quote=self.assets[QUOTE],
                amount=str(SWAPS_PER_ROUND * AMOUNT),
                min_trade=str(AMOUNT),
                max_trade=str(AMOUNT),
                price="1",
            )
        )
        with self.ledger.lock:
            self.ledger.listings[maker.address] = SWAPS_PER_ROUND * UNITS
        taken: list[tuple[Party, dict, str]] = []

        def take_one(taker: Party) -> None:
            try:
                swap, secret = _waiting(lambda: take(taker, listing["id"], str(AMOUNT)))
            except ApiError as exc:
                with self.ledger.lock:
                    self.ledger.refused_takes[exc.code or str(exc.status)] += 1
                return
            with self.ledger.lock:
                taken.append((taker, swap, secret))
                self.driving += 1  # in flight from its creation, not from its driver's start
            self.first_swap.set()

        racers = [threading.Thread(target=take_one, args=(t,), daemon=True) for t in takers]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        log(f"round {number}: listing {listing['id']}, {len(taken)} of 3 takes accepted")

        def settle(taker: Party, swap: dict, secret: str) -> None:
            try:
                timeline = drive(maker, taker, swap["id"], secret, timeout=1800, poll=0.5)
                outcome = timeline.final["state"]
            except Exception as exc:  # the chain checks judge the swap; this is a clue
                outcome = f"driver failed: {exc!r}"[:300]
                with self.ledger.lock:
                    self.ledger.failures.append(f"swap {swap['id']}: {exc!r}"[:400])
            with self.ledger.lock:
                self.ledger.outcomes[outcome.split(":")[0]] += 1
                self.driving -= 1
            log(f"round {number}: swap {swap['id']} {outcome}")

        drivers = [threading.Thread(target=settle, args=item, daemon=True) for item in taken]
        for driver in drivers:
            driver.start()
        for driver in drivers:
            driver.join()

    def all(self, rounds: int, parallel: int) -> None:
        numbers = iter(range(1, rounds + 1))
        numbers_lock = threading.Lock()

        def worker() -> None:
            while True:
                with numbers_lock:
                    number = next(numbers, None)
                    if number is None:
                        return
                self.started.set()
                try:
                    self.run(number)
                except Exception:
                    with self.ledger.lock:
                        self.ledger.failures.append(
                            f"round {number}: {traceback.format_exc(limit=4)}"[-600:]
                        )
                    log(f"round {number} failed: {traceback.format_exc(limit=2)}")

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(parallel)]
        for thread in threads:
            thread.start()
            time.sleep(1.0)
        for thread in threads:
            thread.join()


# ---------------------------------------------------------------- the faults


class Monkey(threading.Thread):
    """SIGKILLs a random running victim program's process tree every ~`every` seconds."""

    def __init__(self, conf: Path, every: float, min_uptime: float, rng: random.Random):
        super().__init__(daemon=True)
        self.conf, self.every, self.min_uptime, self.rng = conf, every, min_uptime, rng
        self.kills: collections.Counter = collections.Counter()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.rng.uniform(0.5, 1.5) * self.every):
            try:
                rows = supervisor_status(self.conf)
            except (OSError, subprocess.SubprocessError):
                continue
            running = sorted(
                (name, rest)
                for name, (state, rest) in rows.items()
                if state == "RUNNING"
                and name.startswith(VICTIMS)
                and _uptime(rest) >= self.min_uptime
            )
            if not running:
                continue
            name, rest = self.rng.choice(running)
            pid = int(rest.split(",")[0].removeprefix("pid "))
            kill_tree(pid)
            self.kills[name.split(":")[0]] += 1
            log(f"monkey: SIGKILL {name} (pid {pid} and its children)")


def _uptime(status: str) -> float:
    """Seconds up, from supervisorctl's "pid 123, uptime 0:01:05" (or "1 day, 0:01:05")."""
    found = re.search(r"uptime (?:(\d+) days?, )?(\d+):(\d\d):(\d\d)", status)
    if not found:
        return 0.0
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


@dataclass
class Fault:
    name: str
    at: float  # seconds after the first swap was created
    act: Callable[[], None]
    done_at: float | None = None
    in_flight: int = 0


def outage(proxy: RpcProxy, seconds: float) -> None:
    """The RPC provider gone for `seconds`: every connection closed unanswered."""
    proxy.refuse = True
    time.sleep(seconds)
    proxy.refuse = False


def run_faults(faults: list[Fault], rounds: Rounds, start: float, halt: threading.Event) -> None:
    """Each fault at its moment, in a thread of its own: a long one (an RPC cut) does not
    hold back the next, so faults may overlap, and the run waits for all of them."""

    def run(fault: Fault) -> None:
        if halt.wait(max(0.0, start + fault.at - time.monotonic())):
            return
        fault.in_flight = rounds.driving
        log(f"fault: {fault.name} ({rounds.driving} swaps in flight)")
        fault.act()
        fault.done_at = time.monotonic() - start
        log(f"fault: {fault.name} done")

    threads = [threading.Thread(target=run, args=(fault,), daemon=True) for fault in faults]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ---------------------------------------------------------------- the checks


@dataclass
class Lock:
    network: str
    lock_id: str
    token: str
    sender: str
    recipient: str
    amount: int
    ends: list[str] = field(default_factory=list)  # "Redeemed" / "Refunded", as logged


def _address(topic: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address("0x" + topic[-40:])


def htlc_addresses(db: PrivatePostgres, networks: list[str]) -> dict[str, list[str]]:
    """The HTLC contracts deployed on each network, as the database records them."""
    sql = "SELECT address FROM chains_deployment WHERE network = %s AND contract = 'HTLC'"
    return {network: [a for (a,) in db.query(sql, [network])] for network in networks}


def htlc_logs(rpc: Rpc, htlcs: list[str]) -> list[dict]:
    return rpc.call("eth_getLogs", {"address": htlcs, "fromBlock": "0x0", "toBlock": "latest"})


def read_locks(logs_by_network: dict[str, list[dict]]) -> dict[str, Lock]:
    locks: dict[str, Lock] = {}
    for network, logs in logs_by_network.items():
        for entry in logs:
            topic = entry["topics"][0]
            lock_id = entry["topics"][1] if len(entry["topics"]) > 1 else ""
            if topic == TOPIC_LOCKED:
                token, amount, _hashlock, _timelock = abi_decode(
                    ["address", "uint256", "bytes32", "uint256"], bytes.fromhex(entry["data"][2:])
                )
                locks[lock_id] = Lock(
                    network,
                    lock_id,
                    token.lower(),
                    _address(entry["topics"][2]),
                    _address(entry["topics"][3]),
                    amount,
                )
            elif topic in (TOPIC_REDEEMED, TOPIC_REFUNDED) and lock_id in locks:
                locks[lock_id].ends.append(EVENT_NAMES[topic])
    return locks


def token_balance(rpc: Rpc, token: str, owner: str) -> int:
    data = "0x" + (BALANCE_OF + bytes.fromhex(owner[2:].rjust(64, "0"))).hex()
    return int(rpc.call("eth_call", {"to": token, "data": data}, "latest"), 16)


def check(
    db: PrivatePostgres, rpcs: dict[str, Rpc], tokens: dict[str, str], ledger: Ledger
) -> list[str]:
    """Every violation found, as one line each (module docstring: the checks)."""
    violations: list[str] = []
    htlcs = htlc_addresses(db, list(rpcs))
    logs = {network: htlc_logs(rpcs[network], htlcs[network]) for network in rpcs}
    locks = read_locks(logs)

    # Every swap completed or refunded, from the chains.
    swaps = db.query(
        "SELECT s.id::text, s.state, s.taker_lock_id, s.maker_lock_id, s.taker_address,"
        " s.maker_payout_address FROM swaps_swap s"
    )
    for swap_id, state, taker_lock, maker_lock, taker_address, payout in swaps:
        found = [locks.get(i) for i in (taker_lock, maker_lock) if i]
        if any(lock is None for lock in found):
            violations.append(f"swap {swap_id}: a lock it names is not on the chain")
            continue
        ends = [lock.ends for lock in found if lock]
        if state in OPEN_STATES or state == "flagged":
            violations.append(f"swap {swap_id}: left {state}")
        if any(len(e) != 1 for e in ends):
            violations.append(f"swap {swap_id}: a lock ended {ends} (once expected)")
            continue
        outcome = {e[0] for e in ends}
        if state == "completed" and (outcome != {"Redeemed"} or len(found) != 2):
            violations.append(f"swap {swap_id}: completed, but the chains show {ends}")
        elif state != "completed" and outcome - {"Refunded"}:
            violations.append(f"swap {swap_id}: {state}, but the chains show {ends}")
        # Exact amounts to the agreed recipients.
        for lock, recipient, network in (
            (locks.get(taker_lock), payout, QUOTE),
            (locks.get(maker_lock), taker_address, BASE),
        ):
            if lock is None:
                continue
            if (lock.amount, lock.recipient.lower(), lock.token, lock.network) != (
                UNITS, recipient.lower(), tokens[network].lower(), network
            ):  # fmt: skip
                violations.append(f"swap {swap_id}: lock {lock.lock_id[:10]}… is {lock}")
    known = {lock_id for _, _, t, m, _, _ in swaps for lock_id in (t, m) if lock_id}
    for lock_id in set(locks) - known:
        violations.append(f"lock {lock_id[:10]}… on {locks[lock_id].network}: no swap names it")

    # Balances to the base unit: minted + paid by locks - locked.
    expected: collections.Counter = collections.Counter(ledger.minted)
    for lock in locks.values():
        chain_id = CHAIN_IDS[lock.network]
        expected[(chain_id, lock.sender)] -= lock.amount
        if lock.ends == ["Redeemed"]:
            expected[(chain_id, lock.recipient)] += lock.amount
        elif lock.ends == ["Refunded"]:
            expected[(chain_id, lock.sender)] += lock.amount
    network_of = {chain_id: network for network, chain_id in CHAIN_IDS.items()}
    for chain_id, address in sorted(ledger.parties | set(expected)):
        network = network_of[chain_id]
        have = token_balance(rpcs[network], tokens[network], address)
        if have != (want := expected[(chain_id, address)]):
            violations.append(f"{address} on {network}: {have} base units, {want} expected")
    relayers = db.query("SELECT network, address FROM chains_relayeraccount")
    for network in rpcs:
        for address in htlcs[network]:
            held = token_balance(rpcs[network], tokens[network], address)
            if held:
                violations.append(f"HTLC {address} on {network} still holds {held} base units")
    for network, address in relayers:
        held = token_balance(rpcs[network], tokens[network], address)
        if held:
            violations.append(f"relayer {address} on {network} holds {held} base units of TEST")

    # No listing oversold: a maker's locks within what its listing offered.
    locked_by: collections.Counter = collections.Counter()
    for lock in locks.values():
        if lock.network == BASE:
            locked_by[lock.sender] += lock.amount
    for maker, offered in ledger.listings.items():
        if locked_by[maker] > offered:
            violations.append(f"maker {maker}: locked {locked_by[maker]} of {offered} offered")

    # Every HTLC event stored once.
    for network in rpcs:
        on_chain = collections.Counter(
            (e["transactionHash"], int(e["logIndex"], 16), EVENT_NAMES[e["topics"][0]])
            for e in logs[network]
            if e["topics"][0] in EVENT_NAMES
        )
        stored = collections.Counter(
            db.query(
                "SELECT tx_hash, log_index, name FROM chains_chainevent"
                " WHERE network = %s AND lower(contract) = ANY(%s)",
                [network, [a.lower() for a in htlcs[network]]],
            )
        )
        for event in stored - on_chain:
            violations.append(
                f"{network}: event {event} stored {stored[event]}×, on chain {on_chain[event]}×"
            )
        for event in on_chain - stored:
            violations.append(f"{network}: event {event} on chain, never stored")

    # Relayer nonces: one stored transaction per nonce, every sent transaction stored.
    for network, nonce, count in db.query(
        "SELECT network, nonce, count(*) FROM chains_relayertx GROUP BY network, nonce"
        " HAVING count(*) > 1"
    ):
        violations.append(f"relayer nonce {nonce} on {network}: {count} stored transactions")
    stored_hashes: dict[str, set[str]] = collections.defaultdict(set)
    for network, tx_hash, replaced in db.query(
        "SELECT network, tx_hash, replaced_hashes FROM chains_relayertx"
    ):
        stored_hashes[network] |= {tx_hash.lower(), *(h.lower() for h in replaced or [])}
    for network, address in relayers:
        rpc = rpcs[network]
        for number in range(int(rpc.call("eth_blockNumber"), 16) + 1):
            block = rpc.call("eth_getBlockByNumber", hex(number), True)
            for tx in block["transactions"]:
                sent, tx_hash = tx["from"].lower() == address.lower(), tx["hash"].lower()
                if sent and tx_hash not in stored_hashes[network]:
                    nonce = int(tx["nonce"], 16)
                    violations.append(f"relayer tx {tx_hash} (nonce {nonce}) on {network}: unknown")
    return violations


def wait_settled(db: PrivatePostgres, rpcs: dict[str, Rpc], timeout: float) -> bool:
    """Until every swap is past its open states and every lock on the chains has ended."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            htlcs = htlc_addresses(db, list(rpcs))
            locks = read_locks({n: htlc_logs(rpcs[n], htlcs[n]) for n in rpcs})
            open_swaps = db.query(
                "SELECT count(*) FROM swaps_swap WHERE state = ANY(%s)", [sorted(OPEN_STATES)]
            )[0][0]
            if not open_swaps and all(lock.ends for lock in locks.values()):
                return True
        except Exception as exc:  # the database may still be coming back
            log(f"settling: {exc!r}")
        if time.monotonic() > deadline:
            return False
        time.sleep(3)


# ---------------------------------------------------------------- the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=2, help="rounds at once (2 swaps each)")
    parser.add_argument("--kill-every", type=float, default=10.0, help="mean seconds between kills")
    parser.add_argument(
        "--min-uptime",
        type=float,
        default=30.0,
        help="only kill a program up this long: one that never finished starting serves nothing",
    )
    parser.add_argument("--cut-seconds", type=float, default=30.0)
    parser.add_argument(
        "--postgres-at",
        type=float,
        help="seconds after the start (default: 20%% of the expected run)",
    )
    parser.add_argument("--redis-at", type=float, help="(default 45%%)")
    parser.add_argument("--cut-at", type=float, help="(default 65%%)")
    parser.add_argument("--settle", type=float, default=1800.0, help="longest wait for refunds")
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    rounds_needed = -(-args.swaps // SWAPS_PER_ROUND)
    expected = rounds_needed / args.parallel * 50.0  # ~50 s a round on this machine

    def at(given: float | None, share: float) -> float:
        return given if given is not None else share * expected

    seed = args.seed if args.seed is not None else secrets.randbelow(10**6)
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="chaos-"))
    folder.chmod(0o755)  # the postgres user and nginx's workers reach their files here
    stats, ledger = HttpStats(), Ledger()
    log(f"chaos: {args.swaps} swaps, {args.parallel} rounds at once; seed {seed}; in {folder}")
    postgres = redis = proxy = None
    anvils = []
    monkey: Monkey | None = None
    halt = threading.Event()
    faults: list[Fault] = []
    violations: list[str] = []
    settled = False
    try:
        postgres = PrivatePostgres(folder)
        redis = PrivateRedis(folder)
        for name, chain_id in CHAIN_IDS.items():
            config_out = ("--config-out", str(folder / f"anvil-{name}.json"))
            anvils.append(
                start_anvil(
                    port=free_port(), chain_id=chain_id, block_time=1, extra_args=config_out
                )
            )
        chain_urls = {
            chain_id: a.rpc_url for chain_id, a in zip(CHAIN_IDS.values(), anvils, strict=True)
        }
        proxy = RpcProxy(chain_urls[CHAIN_IDS[CUT_NETWORK]])
        app_rpc = {BASE: chain_urls[CHAIN_IDS[BASE]], QUOTE: proxy.url}
        log(f"PostgreSQL :{postgres.port}, Redis :{redis.port}; {CUT_NETWORK} RPC via {proxy.url}")
        with stack(
            folder,
            listings=0,
            web=args.web,
            workers=args.workers,
            key_seed=secrets.token_hex(8),
            fund=0,
            metrics_token=secrets.token_urlsafe(24),
            database_url=postgres.url,
            redis_url=redis.url,
            rpc_urls=app_rpc,
        ) as base:
            log(f"make prod answers at {base}")
            rounds = Rounds(base, chain_urls, stats, ledger)
            cut, conf = args.cut_seconds, folder / "prod" / "supervisord.conf"
            faults = [
                Fault("PostgreSQL restart", at(args.postgres_at, 0.20), postgres.restart),
                Fault("Redis restart", at(args.redis_at, 0.45), redis.restart),
                Fault(
                    f"{CUT_NETWORK} RPC cut for {cut:.0f} s",
                    at(args.cut_at, 0.65),
                    lambda: outage(proxy, cut),
                ),
            ]
            monkey = Monkey(conf, args.kill_every, args.min_uptime, rng)
            runner = threading.Thread(
                target=rounds.all, args=(rounds_needed, args.parallel), daemon=True
            )
            runner.start()
            rounds.started.wait()
            start = time.monotonic()
            monkey.start()
            # The faults' moments count from the first swap: mid-swap whatever the machine.
            while not rounds.first_swap.wait(1.0) and runner.is_alive():
                pass
            chaos = threading.Thread(
                target=run_faults, args=(faults, rounds, time.monotonic(), halt), daemon=True
            )
            chaos.start()
            runner.join()
            halt.set()
            monkey.halt.set()
            monkey.join()
            chaos.join()
            took = time.monotonic() - start
            log(f"every round done in {took:.0f} s; waiting for the chains to settle")
            rpcs = {
                network: Rpc(url)
                for network, url in zip(CHAIN_IDS, chain_urls.values(), strict=True)
            }
            settled = wait_settled(postgres, rpcs, args.settle)
            violations = check(postgres, rpcs, rounds.tokens, ledger)
            if not settled:
                violations.append(f"not settled within {args.settle:.0f} s")
            swaps = postgres.query("SELECT count(*) FROM swaps_swap")[0][0]
            states = dict(postgres.query("SELECT state, count(*) FROM swaps_swap GROUP BY state"))
    finally:
        halt.set()
        if monkey is not None:
            monkey.halt.set()
        if (folder / "prod" / "logs").is_dir():
            shutil.rmtree(OUT, ignore_errors=True)
            shutil.copytree(folder / "prod" / "logs", OUT / "logs")
            if (folder / "prodstack.log").exists():
                shutil.copy(folder / "prodstack.log", OUT / "prodstack.log")
        for anvil in anvils:
            anvil.stop()
        if proxy is not None:
            proxy.close()
        if redis is not None:
            redis.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)

    kills = sum(monkey.kills.values()) if monkey else 0
    missed = [f for f in faults if f.done_at is None or f.in_flight == 0]
    print()
    print(f"machine: {machine()}; load average after the run {load()}")
    print(f"run: {took:.0f} s, seed {seed}; swaps by state: {dict(sorted(states.items()))}")
    print(f"kills: {dict(sorted(monkey.kills.items())) if monkey else {}}")
    print(f"swaps as their drivers last saw them: {dict(ledger.outcomes)}")
    for fault in faults:
        when = (
            "not reached"
            if fault.done_at is None
            else f"at +{fault.at:.0f} s, {fault.in_flight} swaps in flight"
        )
        print(f"fault: {fault.name}: {when}")
    refused = ledger.refused_takes
    print(f"takes refused (the listing was full): {sum(refused.values())} {dict(refused)}")
    print(f"clients retried: {dict(stats.seen) or 'nothing'}")
    for error in stats.errors:
        print(f"  500: {error}")
    for failure in ledger.failures:
        print(f"driver: {failure}")
    for violation in violations:
        print(f"VIOLATION: {violation}")
    print(f"chaos: {swaps} swaps, {kills} kills, {len(violations)} violations")
    return 0 if not violations and not missed else 1


if __name__ == "__main__":
    sys.exit(main())
