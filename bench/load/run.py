"""`make load`: the locust scenario (bench/load/locustfile.py) against `make prod`, headless,
then one table per endpoint: requests, req/s, p50/p95/p99, failures and 5xx, the totals and
error rate, the machine line and load average, and whether the goals of issue #19 hold
(no 5xx, API p95 < 500 ms, pages p95 < 1 s).

    DATABASE_URL=postgres://... .venv/bin/python bench/load/run.py --users 200 --minutes 5
    .venv/bin/python bench/load/run.py --target https://host:8443 --users 20 --seconds 30

Without ``--target`` it starts everything in a scratch folder ``/tmp/prodstack-load-*``, on
free ports: two anvils (local-a, local-b) apart from the stack; a local exchange server
quoting ETH and TEST (the oracle asks it, as Coinbase, with a quorum of one); a throwaway
PostgreSQL database beside DATABASE_URL's with the contracts deployed and ``--listings``
listings seeded (bench/load/seed.py); a Redis key prefix of its own; then ``make prod``
(``python -m config.prodstack``) with the API's rate limits raised through their
environment variables (every client here is 127.0.0.1). It tears all of it down at the
end, its programs found by their PROD_DIR (``config.prodstack.kill_leftovers``); after this
script itself was killed, ``pkill -f /tmp/prodstack-load-`` ends the anvils, supervisord,
nginx and the web processes, and ``pkill -f "celery -A config"`` the workers. Locust's CSVs
and the stack's logs are copied to ``var/load/``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.common import forget_redis, load, machine, throwaway_database  # noqa: E402
from bench.load.keys import FUNDED_ENV, KEY_SEED_ENV  # noqa: E402
from config.prodstack import kill_leftovers  # noqa: E402

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
OUT = ROOT / "var" / "load"
START_TIMEOUT = 420.0  # migrations, then six processes importing the app on a busy machine
API_P95_GOAL_MS = 500.0
PAGE_P95_GOAL_MS = 1000.0
# The oracle's prices for the run, quoted by the local exchange server (seed.py prices its
# listings near them).
PRICES = {"ETH-USD": "2000", "TEST-USD": "1", "USDT-USD": "1", "BTC-USD": "60000", "ICP-USD": "10"}
# Every load client is 127.0.0.1: the per-client limits would refuse the run, not measure it.
RAISED_LIMITS = {
    "API_THROTTLE_ANON": "1000000/minute",
    "API_THROTTLE_USER": "1000000/minute",
    "API_THROTTLE_AUTH": "1000000/minute",
    "API_THROTTLE_SWAP_WRITE": "1000000/minute",
    "ACCOUNT_RATE_LIMIT_LOGIN": "1000000/m/ip",
    "ACCOUNT_RATE_LIMIT_SIGNUP": "1000000/m/ip",
}


def _tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the stack's own self-signed certificate
    return context


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, context=_tls(), timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait(what: str, ready, timeout: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except OSError:
            pass
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what}: the stack exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {timeout:.0f} s")
        time.sleep(1.0)


def _step(env: dict[str, str], log: Path, *argv: str) -> None:
    with log.open("ab") as out:
        done = subprocess.run(  # noqa: S603 (fixed argv)
            [sys.executable, *argv], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{tail}")


@contextmanager
def stack(
    folder: Path,
    *,
    listings: int,
    web: int,
    workers: int,
    key_seed: str,
    fund: int,
    metrics_token: str,
    database_url: str | None = None,
    redis_url: str | None = None,
    rpc_urls: dict[str, str] | None = None,
) -> Iterator[str]:
    """Anvils, exchange server, seeded scratch database with `fund` load wallets funded on
    both chains, and `make prod`; yields its URL.

    `database_url`, `redis_url` and `rpc_urls` (local-a, local-b) name services the caller
    runs (bench/chaos.py restarts them); by default a throwaway database beside
    DATABASE_URL's, REDIS_URL (or the local Redis) under a key prefix of its own, and two
    anvils started here."""
    from chains.anvil import free_port, start_anvil
    from testing.exchange_server import ExchangeTestServer

    if database_url is None and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("make load needs PostgreSQL: set DATABASE_URL=postgres://...")
    log = folder / "prodstack.log"
    anvils = []
    exchange = ExchangeTestServer()
    process: subprocess.Popen | None = None
    own_redis = redis_url is not None  # the caller's own server: nothing of others' to spare
    redis_url = redis_url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    redis_prefix = f"load-{secrets.token_hex(4)}"
    given = nullcontext(database_url) if database_url else throwaway_database("load")
    with given as database_url:
        assert database_url is not None
        try:
            for name, chain_id in () if rpc_urls else (("a", 31337), ("b", 31338)):
                # --config-out puts the scratch folder in anvil's command line, so
                # `pkill -f /tmp/prodstack-load-` finds it after a killed run.
                config_out = ("--config-out", str(folder / f"anvil-{name}.json"))
                anvils.append(
                    start_anvil(
                        port=free_port(), chain_id=chain_id, block_time=1, extra_args=config_out
                    )
                )
            if not rpc_urls:
                rpc_urls = {"local-a": anvils[0].rpc_url, "local-b": anvils[1].rpc_url}
            exchange.start()
            for pair, price in PRICES.items():
                exchange.set_price("coinbase", pair, price)
            https = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
            env.update(
                DJANGO_SETTINGS_MODULE="config.settings.prod",
                PROD_DIR=str(folder / "prod"),
                VAR_DIR=str(folder / "var"),
                STATIC_ROOT=str(folder / "static"),
                PROD_HTTP_PORT=str(free_port()),
                PROD_HTTPS_PORT=str(https),
                WEB_PROCESSES=str(web),
                WORKER_PROCESSES=str(workers),
                DATABASE_URL=database_url,
                SECRET_KEY=secrets.token_urlsafe(64),
                JWT_SIGNING_KEY=secrets.token_urlsafe(48),
                METRICS_TOKEN=metrics_token,
                # Where the time goes: queries over 250 ms are logged with their view.
                SLOW_QUERY_MS="250",
                ALLOWED_HOSTS="127.0.0.1,localhost",
                SITE_URL=f"https://127.0.0.1:{https}",
                EMAIL_URL="smtp://127.0.0.1:2525",  # the scenario sends no mail,
                # Production keeps its cache, channel layer and broker in Redis.
                REDIS_URL=redis_url,
                REDIS_KEY_PREFIX=redis_prefix,
                CHAINS_LOCAL_ENABLED="true",
                LOCAL_A_RPC_URL=rpc_urls["local-a"],
                LOCAL_B_RPC_URL=rpc_urls["local-b"],
                ORACLE_SOURCES="coinbase",
                ORACLE_COINBASE_URL=exchange.url,
                ORACLE_QUORUM="1",
                ORACLE_DEGRADED_MIN="1",
                **RAISED_LIMITS,
            )
            print(f"preparing the stack in {folder} (log: {log})", flush=True)
            _step(env, log, "-m", "config.prodstack", "--prepare")
            _step(
                env,
                log,
                "manage.py",
                "deploy_contracts",
                "--network",
                "local-a",
                "--network",
                "local-b",
            )
            if listings or fund:
                seed = ("--listings", str(listings), "--fund", str(fund), "--key-seed", key_seed)
                _step(env, log, "-m", "bench.load.seed", *seed)
            with log.open("ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "config.prodstack"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            base = f"https://127.0.0.1:{https}"
            _wait(
                "make prod", lambda: _get(f"{base}/health/live")[0] == 200, START_TIMEOUT, process
            )
            # Takes are refused while a pair is unpriced: wait for the oracle's first round.
            _wait("the oracle's prices", lambda: _tradeable(base), 120, process)
            yield base
        finally:
            if process is not None:
                _stop(process, folder / "prod")
            for anvil in anvils:
                anvil.stop()
            exchange.stop()
            if not own_redis:
                forget_redis(redis_prefix, redis_url)


def oracle_status(base: str) -> dict[str, str]:
    """{pair: status} as /api/v1/prices/ shows it now."""
    status, body = _get(f"{base}/api/v1/prices/")
    if status != 200:
        return {}
    found = json.loads(body)
    rows = found["results"] if isinstance(found, dict) else found
    return {row["pair"]: row["status"] for row in rows}


def _tradeable(base: str) -> bool:
    statuses = oracle_status(base)
    return all(statuses.get(p) in ("ok", "degraded") for p in ("ETH-USD", "TEST-USD"))


def _stop(process: subprocess.Popen, prod_dir: Path) -> None:
    """supervisord stops its programs on SIGTERM (workers get 60 s to finish a task); what
    outlives it is killed, its programs too (they run in process groups of their own)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=75)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
    kill_leftovers(prod_dir)


def run_locust(
    host: str, *, users: int, rate: float, seconds: int, csv_prefix: Path, env: dict[str, str]
) -> int:
    argv = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--host",
        host,
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(rate),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    print(f"locust: {users} users (+{rate}/s) for {seconds} s against {host}", flush=True)
    code = subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, check=False).returncode  # noqa: S603
    statuses = oracle_status(host)
    print("oracle after the run: " + ", ".join(f"{p} {s}" for p, s in sorted(statuses.items())))
    return code


def server_times(base: str, token: str, processes: int) -> dict[tuple[str, str], tuple[int, float]]:
    """{(view, method): (requests, seconds inside Django)} summed over the web processes'
    Prometheus histograms (core.metrics), read through nginx with the metrics token."""
    totals: dict[tuple[str, str], list[float]] = {}
    for n in range(processes):
        request = urllib.request.Request(  # noqa: S310 (our own stack)
            f"{base}/metrics/web-{n}", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, context=_tls(), timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name != "http_request_duration_seconds":
                continue
            for sample in family.samples:
                if sample.name.endswith(("_sum", "_count")):
                    key = (sample.labels["view"], sample.labels["method"])
                    pair = totals.setdefault(key, [0.0, 0.0])
                    pair[0 if sample.name.endswith("_count") else 1] += sample.value
    return {k: (int(count), seconds) for k, (count, seconds) in totals.items() if count}


def print_server_times(times: dict[tuple[str, str], tuple[int, float]]) -> None:
    """Mean time inside Django per view: what the client saw beyond it was spent queueing
    (for a web process, a database connection), in nginx and TLS, or in the load client."""
    lines = [
        (f"{method} {view}", f"{count:,}", f"{1000 * seconds / count:.0f}")
        for (view, method), (count, seconds) in sorted(times.items(), key=lambda item: -item[1][1])
    ]
    print("\ntime inside Django per view (web processes' metrics), most total time first")
    _table(("view", "requests", "mean ms"), lines)


@dataclass
class Endpoint:
    kind: str  # api, page, ws
    name: str
    requests: int
    rps: float
    p50: float
    p95: float
    p99: float
    failures: int
    server_errors: int

    @property
    def goal_ms(self) -> float | None:
        return {"api": API_P95_GOAL_MS, "page": PAGE_P95_GOAL_MS}.get(self.kind)


def _kind(method: str, name: str) -> str:
    if method == "WS":
        return "ws"
    return "api" if "/api/" in name else "page"


def read_results(csv_prefix: Path) -> list[Endpoint]:
    """Locust's ``_stats.csv`` per endpoint, with 5xx counted from ``_failures.csv``."""
    server_errors: dict[tuple[str, str], int] = {}
    failures = Path(f"{csv_prefix}_failures.csv")
    if failures.exists():
        with failures.open() as f:
            for row in csv.DictReader(f):
                if "5xx " in row["Error"]:
                    key = (row["Method"], row["Name"])
                    server_errors[key] = server_errors.get(key, 0) + int(row["Occurrences"])
    rows = []
    with Path(f"{csv_prefix}_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                continue
            method = row["Type"]
            rows.append(
                Endpoint(
                    kind=_kind(method, row["Name"]),
                    name=row["Name"],  # POST rows are named "POST /api/...", GET rows by path
                    requests=int(row["Request Count"]),
                    rps=float(row["Requests/s"]),
                    p50=float(row["50%"] or 0),
                    p95=float(row["95%"] or 0),
                    p99=float(row["99%"] or 0),
                    failures=int(row["Failure Count"]),
                    server_errors=server_errors.get((method, row["Name"]), 0),
                )
            )
    return sorted(rows, key=lambda r: (["page", "api", "ws"].index(r.kind), r.name))


def _table(head: tuple[str, ...], lines: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")


def report(rows: list[Endpoint], *, title: str) -> bool:
    """Print the tables; whether every goal holds."""
    http = [r for r in rows if r.kind != "ws"]
    lines = []
    for r in http:
        goal = "-" if r.goal_ms is None else ("ok" if r.p95 < r.goal_ms else "MISSES")
        lines.append(
            (
                r.kind,
                r.name,
                f"{r.requests:,}",
                f"{r.rps:.1f}",
                f"{r.p50:.0f}",
                f"{r.p95:.0f}",
                f"{r.p99:.0f}",
                str(r.failures),
                str(r.server_errors),
                f"p95 < {r.goal_ms:.0f} ms: {goal}" if r.goal_ms else "-",
            )
        )
    requests = sum(r.requests for r in http)
    failed = sum(r.failures for r in http)
    server_errors = sum(r.server_errors for r in http)
    lines.append(
        (
            "all",
            "total",
            f"{requests:,}",
            f"{sum(r.rps for r in http):.1f}",
            "",
            "",
            "",
            str(failed),
            str(server_errors),
            f"error rate {100 * failed / max(requests, 1):.2f} %",
        )
    )
    print(title)
    head = (
        "kind",
        "endpoint",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "failures",
        "5xx",
        "goal",
    )
    _table(head, lines)
    ws = [r for r in rows if r.kind == "ws"]
    if ws:
        print()
        _table(
            ("socket", "events", "failures", "connect p95 ms"),
            [
                (
                    r.name,
                    f"{r.requests:,}",
                    str(r.failures),
                    f"{r.p95:.0f}" if "[connect]" in r.name else "-",
                )
                for r in ws
            ],
        )
    api_ok = all(r.p95 < API_P95_GOAL_MS for r in http if r.kind == "api")
    page_ok = all(r.p95 < PAGE_P95_GOAL_MS for r in http if r.kind == "page")
    ws_failures = sum(r.failures for r in ws)
    print()
    missed = f"MISSED ({server_errors})"
    print(f"goal: zero 5xx ............ {'holds' if server_errors == 0 else missed}")
    print(f"goal: API p95 < 500 ms .... {'holds' if api_ok else 'MISSED'}")
    print(f"goal: pages p95 < 1 s ..... {'holds' if page_ok else 'MISSED'}")
    print(f"websocket failures ........ {ws_failures}")
    return server_errors == 0 and api_ok and page_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", help="run against this running stack instead of starting one")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--spawn-rate", type=float, default=None, help="users started per second (default users/20)"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, default=5.0)
    length.add_argument("--seconds", type=int)
    parser.add_argument(
        "--listings", type=int, default=3000, help="listings seeded (without --target)"
    )
    parser.add_argument("--web-processes", type=int, default=2)
    parser.add_argument("--worker-processes", type=int, default=2)
    args = parser.parse_args(argv)
    seconds = args.seconds or int(args.minutes * 60)
    rate = args.spawn_rate or max(1.0, args.users / 20)
    folder = Path(tempfile.mkdtemp(prefix="prodstack-load-"))
    folder.chmod(0o755)  # nginx's workers (www-data) read static files and sockets here
    csv_prefix = folder / "locust"
    times: dict[tuple[str, str], tuple[int, float]] = {}
    try:

        def run(host: str, env: dict[str, str]) -> None:
            run_locust(
                host, users=args.users, rate=rate, seconds=seconds, csv_prefix=csv_prefix, env=env
            )

        if args.target:
            run(args.target.rstrip("/"), {})
        else:
            key_seed, metrics_token = secrets.token_hex(8), secrets.token_urlsafe(24)
            with stack(
                folder,
                listings=args.listings,
                web=args.web_processes,
                workers=args.worker_processes,
                key_seed=key_seed,
                fund=args.users,
                metrics_token=metrics_token,
            ) as host:
                funded = {KEY_SEED_ENV: key_seed, FUNDED_ENV: str(args.users)}
                run(host, funded)
                times = server_times(host, metrics_token, args.web_processes)
        after = load()
        OUT.mkdir(parents=True, exist_ok=True)
        for found in folder.glob("locust_*.csv"):
            shutil.copy(found, OUT / found.name)
        # The stack's logs (a 5xx's traceback is in web-N.log) outlive the scratch folder.
        if (folder / "prod" / "logs").is_dir():
            shutil.rmtree(OUT / "logs", ignore_errors=True)
            shutil.copytree(folder / "prod" / "logs", OUT / "logs")
        if (folder / "prodstack.log").exists():
            shutil.copy(folder / "prodstack.log", OUT / "prodstack.log")
        rows = read_results(csv_prefix)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    title = (
        f"\nload: {args.users} users for {seconds} s against "
        f"{args.target or f'make prod ({args.web_processes} web, {args.worker_processes} workers)'}"
        f"\nmachine: {machine()}; load average after the run {after}\n"
    )
    holds = report(rows, title=title)
    if times:
        print_server_times(times)
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
