"""Swap latency: the time the system adds beyond the chains' own confirmations (issue #15),
then the peak memory of each process of ``make run``.

One command:  .venv/bin/python bench/swaps.py [--swaps 50] [--parallel 4] [--quick]
(or `make bench-swaps`). Starts the whole stack as ``make run`` does (``config.devstack``:
two anvils with 1 s blocks, the contracts deployed, the ASGI server, a Celery worker and
beat, dev settings) on free ports, in a temporary VAR_DIR, against a throwaway PostgreSQL
database `<BENCH_DB_PREFIX>_swaps_<pid>` when DATABASE_URL names PostgreSQL (else SQLite
in the VAR_DIR), with REDIS_URL (cache, broker, channel layer: pushed WebSocket updates)
when it is set, under its own key prefix (deleted afterwards). The API's rate limits are
lifted for the run (NOTES: they bite scripts from one address).

Then `--parallel` pairs of fresh users (new keys: ETH from ``anvil_setBalance``, TEST from
the test token's open mint), each signed in by SIWE over HTTP, drive `--swaps` swaps of
TEST on local-a for TEST on local-b through the API (testing/swap_client.py, out of the
server's processes), each following its swap's WebSocket; a thread records when each block
of each chain is first seen (``eth_blockNumber`` every 50 ms). Per step it prints the
median and p95 of the time added beyond the chain's own confirmation, in seconds and in
blocks of the chain concerned:

- taker lock → API / WebSocket: from the block that confirms the taker's lock (its block +
  confirmations - 1) first seen, to the swap first read as ``taker_locked`` from the API
  (polled every `--poll` s) / first pushed so on ``/ws/swaps/{id}/``;
- maker lock → API / WebSocket: the same for the maker's lock and ``maker_locked``;
- secret → API: the taker's redeem confirmed on local-a to ``secret_revealed``;
- secret → relayer redeem mined: the taker's redeem confirmed on local-a to the block of
  the relayer's redeem on local-b (the ``completed`` event's block) first seen;
- relayer redeem → API / WebSocket: that redeem confirmed to ``completed``.

The floor is the chains' own clock, measured in the same run: the median interval between
two blocks (the goal is one block time at p95). After the swaps it reads VmHWM (peak
resident memory) and VmRSS of each process of the stack from /proc, then stops it.
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402 (after the path change)
    Row,
    emit,
    forget_redis,
    load,
    machine,
    median,
    pct,
    print_table,
    throwaway_database,
)
from testing.swap_client import (  # noqa: E402
    Api,
    ApiError,
    Heads,
    Party,
    Timeline,
    anvil_fund,
    asset_id,
    drive,
    mint_test_token,
    networks,
    post_listing,
    take,
)

STARTUP_SECONDS = 300
BASE, QUOTE = "local-a", "local-b"  # the maker sells TEST on local-a for TEST on local-b
AMOUNT = "5"  # TEST per swap, price 1: 5 USD, far below the KYC limit of a new account
FUND_WEI = 100 * 10**18


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the stack


@dataclass
class Stack:
    proc: subprocess.Popen
    url: str
    rpc_urls: dict[int, str]
    log: Path


def _start_stack(env: dict[str, str], var_dir: Path) -> Stack:
    """Migrate, then ``python -m config.devstack`` (what ``make run`` starts) on free ports."""
    port, port_a, port_b = _free_port(), _free_port(), _free_port()
    env.update(
        PORT=str(port),
        HOST="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{port}",
        ANVIL_A_PORT=str(port_a),
        ANVIL_B_PORT=str(port_b),
    )
    log = var_dir / "stack.log"
    py = sys.executable
    subprocess.run(  # noqa: S603 (fixed argv)
        [py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603
            [py, "-m", "config.devstack"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    stack = Stack(
        proc,
        f"http://127.0.0.1:{port}",
        {31337: f"http://127.0.0.1:{port_a}", 31338: f"http://127.0.0.1:{port_b}"},
        log,
    )
    # Generous: four processes importing Django on a loaded 2-core machine.
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the stack exited ({proc.returncode}):\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{stack.url}/health/live", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return stack
        except OSError:
            time.sleep(0.5)
    _stop_stack(stack)
    raise SystemExit(f"the stack did not answer within {STARTUP_SECONDS} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop_stack(stack: Stack) -> None:
    """SIGTERM to the supervisor, which stops every child group (config/devstack.py)."""
    try:
        stack.proc.send_signal(signal.SIGTERM)
        stack.proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(stack.proc.pid, signal.SIGKILL)
        stack.proc.wait(timeout=10)


@dataclass
class Memory:
    role: str
    pid: int
    peak_mib: float
    rss_mib: float


def _status(pid: int) -> dict[str, str]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        found[key] = value.strip()
    return found


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _role(pid: int, parent_role: str, anvil_ports: dict[str, str]) -> str:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(a.decode(errors="replace") for a in argv)
    if "anvil" in text:
        for name, port in anvil_ports.items():
            if f"--port {port}" in text:
                return f"anvil {name}"
        return "anvil"
    if "uvicorn" in text:
        return "web (uvicorn)"
    if " beat" in text:
        return "celery beat"
    if "follow_chains" in text:
        return "head follower"
    if " worker" in text:
        return (
            "celery worker (pool process)"
            if parent_role.startswith("celery worker")
            else ("celery worker (main)")
        )
    if "config.devstack" in text:
        return "supervisor (config.devstack)"
    return text[:40]


def memory(stack: Stack, env: dict[str, str]) -> list[Memory]:
    """VmHWM and VmRSS of the supervisor and every process under it, from /proc."""
    ports = {BASE: env["ANVIL_A_PORT"], QUOTE: env["ANVIL_B_PORT"]}
    found: list[Memory] = []
    todo = [(stack.proc.pid, "")]
    while todo:
        pid, parent_role = todo.pop(0)
        try:
            status = _status(pid)
            role = _role(pid, parent_role, ports)
            children = _children(pid)
        except OSError:
            continue
        kib = {k: int(status.get(k, "0 kB").split()[0]) for k in ("VmHWM", "VmRSS")}
        found.append(Memory(role, pid, kib["VmHWM"] / 1024, kib["VmRSS"] / 1024))
        todo += [(child, role) for child in children]
    return found


# ---------------------------------------------------------------- the swaps


@dataclass
class Pair:
    maker: Party
    taker: Party
    listing: int


@dataclass
class Results:
    timelines: list[Timeline] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _tradeable(api: Api, pair: str) -> bool:
    found = api.get("/api/v1/prices/")
    rows = found["results"] if isinstance(found, dict) else found
    return any(row["pair"] == pair and row["status"] in ("ok", "degraded") for row in rows)


def _wait_ready(url: str, timeout: float = 240.0) -> dict[str, dict]:
    """Both networks with their HTLC deployed, as the API lists them, and TEST-USD published
    by beat's first oracle round (until then the TEST pairs are halted)."""
    api = Api(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = networks(api)
            if all(found.get(n, {}).get("htlc_address") for n in (BASE, QUOTE)) and _tradeable(
                api, "TEST-USD"
            ):
                return found
        except (ApiError, OSError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("no HTLC contracts or no TEST-USD price in time")
        time.sleep(1)


def _pair(url: str, rpc_urls: dict[int, str], nets: dict[str, dict], swaps: int) -> Pair:
    """A maker and a taker with fresh keys, funded, signed in; the maker's listing."""
    from eth_account import Account

    maker, taker = (Party(Api(url), Account.create(), rpc_urls) for _ in range(2))
    a, b = nets[BASE]["chain_id"], nets[QUOTE]["chain_id"]
    for party in (maker, taker):
        for chain_id in (a, b):
            anvil_fund(rpc_urls[chain_id], party.address, FUND_WEI)
        party.sign_in()
    found = maker.api.get("/api/v1/assets/", page_size=500)
    rows = found["results"] if isinstance(found, dict) else found
    tokens = {row["network"]: row["address"] for row in rows if row["symbol"] == "TEST"}
    units = (swaps + 1) * int(AMOUNT) * 10**6  # TEST has 6 decimals
    mint_test_token(maker, a, tokens[BASE], maker.address, units)
    mint_test_token(taker, b, tokens[QUOTE], taker.address, units)
    base, quote = asset_id(maker.api, BASE, "TEST"), asset_id(maker.api, QUOTE, "TEST")
    deadline = time.monotonic() + 120
    while True:  # beat's first oracle round publishes TEST-USD; until then the pair is unpriced
        try:
            listing = post_listing(
                maker,
                base=base,
                quote=quote,
                amount=str(swaps * int(AMOUNT)),
                min_trade=AMOUNT,
                max_trade=AMOUNT,
                price="1",
            )
            return Pair(maker, taker, listing["id"])
        except ApiError as exc:
            if exc.code not in ("pair_unpriced", "pair_halted") or time.monotonic() > deadline:
                raise
            time.sleep(2)


def _take(pair: Pair) -> tuple[dict, str]:
    """Take the pair's listing; a price halted for a moment (a late oracle round on a loaded
    machine) is waited out, as the API says to (errors.RETRYABLE)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return take(pair.taker, pair.listing, AMOUNT)
        except ApiError as exc:
            if exc.code not in ("pair_halted", "price_unavailable") or time.monotonic() > deadline:
                raise
            time.sleep(2)


def run_swaps(
    url: str, rpc_urls: dict[int, str], nets: dict, heads: Heads, args: argparse.Namespace
) -> Results:
    results = Results()
    jobs: queue.Queue[int] = queue.Queue()
    for n in range(args.swaps):
        jobs.put(n)
    per_pair = -(-args.swaps // args.parallel)
    lock = threading.Lock()

    def worker(number: int) -> None:
        try:
            pair = _pair(url, rpc_urls, nets, per_pair)
        except Exception:
            with lock:
                results.failures.append(f"pair {number}: {traceback.format_exc(limit=3)}")
            return
        while True:
            try:
                n = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                swap, secret = _take(pair)
                timeline = drive(
                    pair.maker,
                    pair.taker,
                    swap["id"],
                    secret,
                    timeout=args.timeout,
                    poll=args.poll,
                    heads=heads,
                    follow_ws=True,
                )
                with lock:
                    results.timelines.append(timeline)
                print(
                    f"  swap {n + 1:>3}: {timeline.final['state']} in "
                    f"{timeline.seen[-1].at - timeline.seen[0].at:5.1f} s   load {load()}",
                    flush=True,
                )
            except Exception as exc:
                with lock:
                    results.failures.append(f"swap {n + 1}: {exc!r}")
                print(f"  swap {n + 1:>3}: failed: {exc!r}", flush=True)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.parallel)]
    for thread in threads:
        thread.start()
        time.sleep(0.5)  # staggered: the swaps in flight are at different steps
    for thread in threads:
        thread.join()
    return results


# ---------------------------------------------------------------- the figures


@dataclass
class Step:
    key: str
    label: str
    chain_id: int  # the chain whose blocks count the step
    seconds: list[float] = field(default_factory=list)
    blocks: list[int] = field(default_factory=list)
    missing: int = 0  # swaps where the step could not be measured (a state not seen)
    context: bool = False  # printed to show where the time goes, not a figure for the table


def _block_at(heads: Heads, chain_id: int, when: float) -> int:
    """The latest block of `chain_id` seen at wall time `when`."""
    return max((n for n, t in heads.seen[chain_id].items() if t <= when), default=-1)


def measure(timelines: list[Timeline], heads: Heads, nets: dict[str, dict]) -> list[Step]:
    a, b = nets[BASE]["chain_id"], nets[QUOTE]["chain_id"]
    conf = {a: nets[BASE]["confirmations"], b: nets[QUOTE]["confirmations"]}
    steps = {
        key: Step(key, label, chain, context=label.startswith(" "))
        for key, label, chain in (
            ("own", "  the chain's own: a lock's block → its confirming block", b),
            ("tl_api", "taker lock confirmed → API taker_locked", b),
            ("tl_ws", "taker lock confirmed → WebSocket taker_locked", b),
            ("ml_api", "maker lock confirmed → API maker_locked", a),
            ("ml_ws", "maker lock confirmed → WebSocket maker_locked", a),
            ("sr_api", "secret confirmed → API secret_revealed", a),
            ("sr_ws", "secret confirmed → WebSocket secret_revealed", a),
            ("relay", "secret confirmed (local-a) → relayer redeem mined (local-b)", b),
            ("done_api", "relayer redeem confirmed → API completed", b),
            ("done_ws", "relayer redeem confirmed → WebSocket completed", b),
            # Where the time goes: the watcher's transition (the history's created_at, the
            # server's clock on this machine) splits each step into watcher and delivery.
            ("w_tl", "  taker lock confirmed → watcher's transition", b),
            ("w_ml", "  maker lock confirmed → watcher's transition", a),
            ("w_sr", "  secret confirmed → watcher's transition", a),
            ("w_relay", "  watcher's secret_revealed → relayer redeem mined", b),
            ("w_done", "  relayer redeem confirmed → watcher's transition", b),
        )
    }

    def confirmed(chain_id: int, block: int) -> tuple[float, int]:
        last = block + conf[chain_id] - 1
        return heads.seen_at(chain_id, last, timeout=10), last

    def add(key: str, since: tuple[float, int], seen_at: float | None) -> None:
        step = steps[key]
        if seen_at is None:
            step.missing += 1
            return
        step.seconds.append(seen_at - since[0])
        step.blocks.append(_block_at(heads, step.chain_id, seen_at) - since[1])

    for t in timelines:
        if t.final.get("state") != "completed":
            continue

        def at(state: str, via: str, t: Timeline = t) -> float | None:
            seen = t.first(state, via=via)
            return seen.at if seen else None

        recorded = {
            e["to_state"]: datetime.fromisoformat(e["created_at"]).timestamp()
            for e in t.final["history"]
        }
        taker_lock = confirmed(b, t.sent["taker:lock"].block)
        mined_at = heads.seen_at(b, t.sent["taker:lock"].block, timeout=10)
        steps["own"].seconds.append(taker_lock[0] - mined_at)
        steps["own"].blocks.append(taker_lock[1] - t.sent["taker:lock"].block)
        add("tl_api", taker_lock, at("taker_locked", "api"))
        add("tl_ws", taker_lock, at("taker_locked", "ws"))
        maker_lock = confirmed(a, t.sent["maker:lock"].block)
        add("ml_api", maker_lock, at("maker_locked", "api"))
        add("ml_ws", maker_lock, at("maker_locked", "ws"))
        secret = confirmed(a, t.sent["taker:redeem"].block)
        add("sr_api", secret, at("secret_revealed", "api"))
        add("sr_ws", secret, at("secret_revealed", "ws"))
        (done,) = [e for e in t.final["history"] if e["to_state"] == "completed"]
        assert done["network"] == QUOTE, done
        mined = heads.seen_at(b, done["block"], timeout=10)
        # in blocks: of local-b, from its head when the secret was confirmed on local-a
        steps["relay"].seconds.append(mined - secret[0])
        steps["relay"].blocks.append(done["block"] - _block_at(heads, b, secret[0]))
        redeem = confirmed(b, done["block"])
        add("done_api", redeem, at("completed", "api"))
        add("done_ws", redeem, at("completed", "ws"))
        add("w_tl", taker_lock, recorded.get("taker_locked"))
        add("w_ml", maker_lock, recorded.get("maker_locked"))
        add("w_sr", secret, recorded.get("secret_revealed"))
        revealed = recorded["secret_revealed"]
        steps["w_relay"].seconds.append(mined - revealed)
        steps["w_relay"].blocks.append(done["block"] - _block_at(heads, b, revealed))
        add("w_done", redeem, recorded.get("completed"))
    return list(steps.values())


def block_time(heads: Heads, chain_id: int) -> float:
    """The median interval between consecutive blocks first seen (skipped polls excluded)."""
    seen = sorted(heads.seen[chain_id].items())
    gaps = [t2 - t1 for (n1, t1), (n2, t2) in zip(seen, seen[1:], strict=False) if n2 == n1 + 1]
    return statistics.median(gaps) if gaps else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=4, help="swaps in flight at once")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between API reads")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per swap")
    parser.add_argument("--quick", action="store_true", help="6 swaps, 3 at once")
    args = parser.parse_args()
    if args.quick:
        args.swaps, args.parallel = 6, 3

    var_dir = Path(tempfile.mkdtemp(prefix="bench-swaps-"))
    prefix = f"bench-swaps-{secrets.token_hex(4)}"  # fixed length: no prefix of another run
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        VAR_DIR=str(var_dir),
        REDIS_KEY_PREFIX=prefix,
        API_THROTTLE_ANON="100000000/minute",
        API_THROTTLE_USER="100000000/minute",
        API_THROTTLE_SWAP_WRITE="100000000/minute",
        API_THROTTLE_AUTH="100000000/minute",
    )
    print(f"machine: {machine()}, load average {load()} at start", flush=True)
    postgres = env.get("DATABASE_URL", "").startswith("postgres")
    pushed = "pushed updates" if env.get("REDIS_URL") else "none: the WebSocket polls every 2 s"
    print(f"database: {'PostgreSQL' if postgres else 'SQLite'}, Redis: {pushed}", flush=True)
    try:
        with throwaway_database("swaps") as db_url:
            if db_url:
                env["DATABASE_URL"] = db_url
            rows = run(args, env, var_dir)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
        forget_redis(prefix)
    print_table(rows, title=f"\nSwap latency, {args.swaps} swaps, {args.parallel} at once")
    for row in rows:
        emit(row)
    print(f"machine: {machine()}, load average {load()} at end")


def run(args: argparse.Namespace, env: dict[str, str], var_dir: Path) -> list[Row]:
    started = time.monotonic()
    stack = _start_stack(env, var_dir)
    try:
        print(f"stack up in {time.monotonic() - started:.0f} s at {stack.url}", flush=True)
        nets = _wait_ready(stack.url)
        with Heads(stack.rpc_urls) as heads:
            begun = time.monotonic()
            results = run_swaps(stack.url, stack.rpc_urls, nets, heads, args)
            took = time.monotonic() - begun
            steps = measure(results.timelines, heads, nets)
            block = {c: block_time(heads, c) for c in stack.rpc_urls}
        mem = memory(stack, env)
    finally:
        _stop_stack(stack)
    done = sum(t.final.get("state") == "completed" for t in results.timelines)
    print(
        f"\n{done} of {args.swaps} swaps completed in {took:.0f} s ({args.parallel} at once); "
        f"load average {load()}"
    )
    for failure in results.failures:
        print(f"  failed: {failure}")
    print(
        "block time seen (median interval): "
        + ", ".join(
            f"{name} {block[n['chain_id']]:.2f} s, {n['confirmations']} confirmations"
            for name, n in nets.items()
            if n["chain_id"] in block
        )
    )
    print(
        f"\nTime added beyond the chain's own confirmation (API read every {args.poll} s, "
        "heads every 0.05 s):"
    )
    print(f"  {'step':<62} {'n':>3} {'median':>8} {'p95':>8} {'median':>8} {'p95':>6}")
    rows = []
    by_key = {step.key: step for step in steps}
    for step in steps:
        if step.label.startswith("  taker lock confirmed → watcher"):
            print("  where the time goes: the watcher's part (the rest is delivery to the client)")
        if not step.seconds:
            print(f"  {step.label:<62} {0:>3} (not measured; {step.missing} missing)")
            continue
        floor = block[step.chain_id]
        goal = float(next(n["block_time"] for n in nets.values() if n["chain_id"] == step.chain_id))
        p50, p95 = median(step.seconds), pct(step.seconds, 0.95)
        b50, b95 = median(step.blocks), pct(step.blocks, 0.95)
        missing = f"   ({step.missing} not seen)" if step.missing else ""
        print(
            f"  {step.label:<62} {len(step.seconds):>3} {p50:7.2f}s {p95:7.2f}s "
            f"{b50:5.1f} bl {b95:3.0f} bl{missing}"
        )
        if step.context:
            continue
        note = f"{b95:.0f} blocks at p95" if p95 >= goal else ""
        if note and step.key == "relay" and by_key["w_sr"].seconds:
            # The split says whose time it is: ours up to the watcher's transition (the
            # redeem is sent as its batch commits), then the other chain mining it.
            ours = pct(by_key["w_sr"].seconds, 0.95)
            note += (
                f": {ours:.2f} s at p95 to the watcher's transition, which sends the redeem; "
                f"the rest is {QUOTE} mining it ({pct(by_key['w_relay'].seconds, 0.95):.2f} s "
                "at p95): a transaction waits for the chain's next block, about one block "
                "after the confirmation when the two chains mine in step. That wait is the "
                "chain's: ours could only shrink the part before it; on chains whose blocks "
                "are not in step it is 0 to 1 block (README)"
            )
        rows.append(
            Row(
                f"swap latency p95: {step.label}",
                p95 * 1000,
                "ms",
                floor * 1000,
                goal * 1000,
                note=note,
            )
        )
    print(f"\nMemory after the swaps (VmHWM: peak resident; VmRSS: now), {machine()}:")
    for m in mem:
        print(
            f"  {m.role:<32} pid {m.pid:>7}   peak {m.peak_mib:7.1f} MiB   now {m.rss_mib:7.1f} MiB"
        )
    total = sum(m.peak_mib for m in mem)
    print(f"  {'sum of peaks':<32} {'':>11}   {total:7.1f} MiB")
    roles: dict[str, int] = {}
    for m in mem:
        roles[m.role] = roles.get(m.role, 0) + 1
        role = m.role if roles[m.role] == 1 else f"{m.role} {roles[m.role]}"
        rows.append(Row(f"make run peak RSS: {role}", m.peak_mib, "MiB", None, None))
    return rows


if __name__ == "__main__":
    main()
