"""Two nodes of `make prod` behind one load balancer, sharing PostgreSQL and Redis (issue #19).

``python -m config.prodstack`` runs twice, as node A and node B: separate ``PROD_DIR``s and
ports, one web process and the two workers each, the same ``DATABASE_URL`` (a scratch
PostgreSQL database), ``REDIS_URL`` and ``REDIS_KEY_PREFIX``. A front nginx, rendered here,
balances over both nodes' https ports, as the load balancer in front of two machines would.
Two anvil chains run apart from the nodes (as real chains do); the contracts are deployed
with ``manage.py deploy_contracts`` once node A has migrated the database. A local exchange
server stands in for the oracle's sources (ETH at 2.50 USD).

The tests show: requests through the front reach both nodes; one beat schedules, each job
once per interval, while the other stands by; both nodes' workers honour a network's one
scan lease; a swap's change caused by node A's worker reaches a WebSocket client on node B;
and with node A killed outright mid-swap, node B (its beat taking over, its workers and
relayer) finishes the swap, balances exact to the wei, each chain event stored once.

PostgreSQL and Redis only: two nodes sharing a SQLite file (and a file-system broker, an
in-memory channel layer) is not a supported topology, so the SQLite run skips.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from web3 import HTTPProvider, Web3

from chains import compiler
from chains.anvil import AnvilProcess, start_anvil
from chains.keys import account_for
from config.prodstack import BASE_DIR, self_signed_certificate
from ops.tests.support import (
    ScratchPostgres,
    free_port,
    http_request,
    kill_tree,
    require_binary,
    supervisorctl,
    tls_context,
    wait_running,
)
from testing.exchange_server import ExchangeTestServer
from testing.swap_client import Api, Party, anvil_key, asset_id, drive, post_listing, take

# Starting: node A migrates a fresh database, then node B and the contract deployment; ten
# processes import the app (~13 s of CPU each), so minutes on a loaded two-core machine.
START_TIMEOUT = 480.0
pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.timeout(START_TIMEOUT + 600),
]

SCAN_INTERVAL = 2.0  # CHAIN_SCAN_INTERVAL of both nodes
LEASE_SECONDS = 10  # CHAIN_SCAN_LEASE_SECONDS: how long a killed scanner blocks its network
PROGRAMS = {
    "web:web-0",
    "worker-chain:worker-chain-0",
    "worker-mail",
    "follower",
    "beat",
    "nginx",
}
CHAIN_WORKER = "worker-chain:worker-chain-0"


def _swap_events() -> dict[str, str]:
    """topic 0 -> name of the HTLC events a swap emits (its constructor logs others)."""
    events = {}
    for item in compiler.compile_contract("HTLC").abi:
        if item.get("type") == "event" and item["name"] in ("Locked", "Redeemed", "Refunded"):
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            events[Web3.keccak(text=signature).to_0x_hex()] = item["name"]
    return events


def _log_records(path: Path) -> list[dict]:
    """The JSON log records of one program's log (banners and other lines left out)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def _at(record: dict) -> float:
    return datetime.fromisoformat(record["ts"]).timestamp()


def _since(records: list[dict], start: float) -> list[dict]:
    return [r for r in records if _at(r) >= start]


@dataclass
class Node:
    """One `make prod` node: its folder, environment, https port and supervisord."""

    name: str
    folder: Path
    env: dict[str, str]
    https_port: int
    process: subprocess.Popen | None = None

    @property
    def conf(self) -> Path:
        return self.folder / "prod" / "supervisord.conf"

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def log(self, program: str) -> Path:
        return self.folder / "prod" / "logs" / f"{program}.log"

    def records(self, program: str) -> list[dict]:
        return _log_records(self.log(program))

    def start(self) -> None:
        self.folder.mkdir(mode=0o755)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "config.prodstack"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=(self.folder / "prodstack.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_for(self, program: str, message: str, *, since: float = 0.0, timeout: float) -> None:
        """Until `program`'s log has a record whose message contains `message`."""
        deadline = time.monotonic() + timeout
        while True:
            if any(message in r.get("message", "") for r in _since(self.records(program), since)):
                return
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"{self.name} exited:\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: no {message!r} in {program}'s log:\n{self.tail()}")
            time.sleep(0.5)

    def tail(self) -> str:
        text = ""
        for path in (
            self.folder / "prodstack.log",
            *sorted((self.folder / "prod" / "logs").glob("*.log")),
        ):
            if path.exists():
                text += f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}\n"
        return text

    def stop(self) -> None:
        """SIGTERM supervisord (it stops its programs), then kill whatever is left."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            kill_tree(self.process.pid)
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL supervisord and every process under it at once, as a power cut would."""
        assert self.process is not None
        kill_tree(self.process.pid)
        self.process.wait(timeout=30)


FRONT_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}
    # The two nodes' own nginx (TLS). A node that stops answering is skipped for 10 s.
    upstream nodes {{
        server 127.0.0.1:{a} max_fails=1 fail_timeout=10s;
        server 127.0.0.1:{b} max_fails=1 fail_timeout=10s;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_connect_timeout 3s;
        proxy_read_timeout 1h;
        proxy_next_upstream error timeout http_502 http_503;
        location / {{
            proxy_pass https://nodes;
        }}
    }}
}}
"""


@dataclass
class Cluster:
    a: Node
    b: Node
    front: str
    database: ScratchPostgres
    chains: dict[str, Web3]  # network name -> a client of its anvil


def _front(folder: Path, port: int, a: Node, b: Node) -> subprocess.Popen:
    folder.mkdir(mode=0o755)
    tmp = folder / "tmp"
    tmp.mkdir(mode=0o777)
    tmp.chmod(0o777)  # nginx's workers leave root (nobody) and write their temp files here
    self_signed_certificate(folder / "cert.pem", folder / "key.pem", ["127.0.0.1"])
    conf = folder / "nginx.conf"
    conf.write_text(FRONT_CONF.format(dir=folder, port=port, a=a.https_port, b=b.https_port))
    nginx = require_binary("nginx", "nginx")
    return subprocess.Popen(
        [nginx, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "nginx.out").open("wb"),
        start_new_session=True,
    )


def _environment(
    folder: Path,
    name: str,
    http: int,
    https: int,
    shared: dict[str, str],
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(shared)
    env.update(
        NODE_NAME=name,
        PROD_DIR=str(folder / "prod"),
        VAR_DIR=str(folder / "var"),
        STATIC_ROOT=str(folder / "static"),
        PROD_HTTP_PORT=str(http),
        PROD_HTTPS_PORT=str(https),
        WEB_PROCESSES="1",
        WORKER_PROCESSES="2",  # the minimum: one chain worker, one mail worker
    )
    return env


def _wait_http(url: str, deadline: float, node: Node | None = None) -> None:
    while True:
        try:
            if http_request(url, timeout=5)[0] == 200:
                return
        except OSError:
            pass
        if node is not None and node.process is not None and node.process.poll() is not None:
            pytest.fail(f"{node.name} exited:\n{node.tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer" + (f":\n{node.tail()}" if node else ""))
        time.sleep(0.5)


@pytest.fixture(scope="module")
def cluster(request):
    if not (settings.USING_POSTGRES and settings.REDIS_URL):
        pytest.skip(
            "two nodes share PostgreSQL and Redis (DATABASE_URL=postgres://..., REDIS_URL): "
            "two nodes on one SQLite file is not a supported topology"
        )
    require_binary("nginx", "nginx")
    require_binary("supervisord", "supervisor")
    failed_before = request.session.testsfailed
    folder = Path(tempfile.mkdtemp(prefix="prodstack-twonodes-"))
    folder.chmod(0o755)  # nginx's workers (www-data) read static files and sockets here
    anvils: list[AnvilProcess] = []
    exchange = ExchangeTestServer()
    database: ScratchPostgres | None = None
    key_prefix = f"twonodes-{secrets.token_hex(4)}"
    nodes: list[Node] = []
    front: subprocess.Popen | None = None
    try:
        for chain_id in (31337, 31338):
            anvils.append(start_anvil(port=free_port(), chain_id=chain_id, block_time=1))
        exchange.start()
        for source in ("coinbase", "kraken", "coingecko"):
            exchange.set_price(source, "ETH-USD", "2.50")
        database = ScratchPostgres(os.environ["DATABASE_URL"], "twonodes")
        front_port = free_port()
        front_url = f"https://127.0.0.1:{front_port}"
        shared = {
            "DATABASE_URL": database.url,
            "REDIS_URL": settings.REDIS_URL,
            "REDIS_KEY_PREFIX": key_prefix,
            # One deployment: the same secrets on every node (a JWT from one works on the other).
            "SECRET_KEY": secrets.token_urlsafe(64),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
            "METRICS_TOKEN": secrets.token_urlsafe(24),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": front_url,
            "EMAIL_URL": "smtp://127.0.0.1:2525",
            "STAFF_MFA_REQUIRED": "true",
            "CHAINS_LOCAL_ENABLED": "true",
            "LOCAL_A_RPC_URL": anvils[0].rpc_url,
            "LOCAL_B_RPC_URL": anvils[1].rpc_url,
            "ORACLE_COINBASE_URL": exchange.url,
            "ORACLE_KRAKEN_URL": exchange.url,
            "ORACLE_COINGECKO_URL": exchange.url,
            "ORACLE_SOURCES": "coinbase,kraken,coingecko",
            "ORACLE_PAIRS": "ETH-USD",
            "CHAIN_SCAN_INTERVAL": str(SCAN_INTERVAL),
            "CHAIN_SCAN_LEASE_SECONDS": str(LEASE_SECONDS),
            "BEAT_LOCK_RETRY_SECONDS": "2",
        }
        a_http, a_https, b_http, b_https = (free_port() for _ in range(4))
        a = Node("node-a", folder / "a", {}, a_https)
        a.env = _environment(a.folder, "node-a", a_http, a_https, shared)
        b = Node("node-b", folder / "b", {}, b_https)
        b.env = _environment(b.folder, "node-b", b_http, b_https, shared)
        nodes += [a, b]
        deadline = time.monotonic() + START_TIMEOUT
        # Node A first: it migrates the fresh database, and its beat is the one that schedules.
        a.start()
        a.wait_for("beat", "beat lock acquired", timeout=START_TIMEOUT)
        b.start()
        deploy = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "deploy_contracts",
                "--network",
                "local-a",
                "--network",
                "local-b",
            ],
            cwd=BASE_DIR,
            env={**a.env, "DJANGO_SETTINGS_MODULE": "config.settings.prod"},
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        assert deploy.returncode == 0, deploy.stderr
        for node in (a, b):
            _wait_http(f"{node.base}/health/live", deadline, node)
            wait_running(node.conf, PROGRAMS, timeout=max(deadline - time.monotonic(), 1))
            node.wait_for("worker-chain-0", "ready.", timeout=max(deadline - time.monotonic(), 1))
        b.wait_for("beat", "standing by", timeout=60)
        front = _front(folder / "front", front_port, a, b)
        _wait_http(f"{front_url}/health/live", deadline)
        yield Cluster(
            a=a,
            b=b,
            front=front_url,
            database=database,
            chains={
                "local-a": Web3(HTTPProvider(anvils[0].rpc_url)),
                "local-b": Web3(HTTPProvider(anvils[1].rpc_url)),
            },
        )
    finally:
        if front is not None:
            front.terminate()
            front.wait(timeout=30)
        for node in nodes:
            node.stop()
        if database is not None:
            database.drop()
        exchange.stop()
        for anvil in anvils:
            anvil.stop()
        _delete_keys(key_prefix)
        if request.session.testsfailed == failed_before:
            shutil.rmtree(folder, ignore_errors=True)  # kept when a test failed: its logs


def _delete_keys(prefix: str) -> None:
    """Every Redis key the nodes wrote (queues, cache, channel layer): all under `prefix`."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


def test_the_front_load_balancer_sends_requests_to_both_nodes(cluster):
    # when: ten requests through the front
    marker = secrets.token_hex(4)
    for n in range(10):
        status, _, body = http_request(f"{cluster.front}/health/live?lb={marker}-{n}")
        assert status == 200, body
    # then: each node's nginx served some of them
    for node in (cluster.a, cluster.b):
        access = (node.folder / "prod" / "logs" / "nginx-access.log").read_text()
        assert access.count(f"lb={marker}-") >= 1, node.name


def test_one_beat_schedules_each_job_once_per_interval(cluster):
    # given: both nodes' beats running, node A's holding the scheduler lock
    window = 12.0
    start = time.time()
    # when: a window passes
    time.sleep(window)
    end = time.time()

    # then: node B's beat sent nothing; node A's sent each periodic job once per interval
    def sends(node: Node) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for record in _since(node.records("beat"), start):
            message, at = record.get("message", ""), _at(record)
            if message.startswith("Scheduler: Sending due task") and at <= end:
                entry = message.split("Sending due task ", 1)[1].split(" ", 1)[0]
                found.setdefault(entry, []).append(at)
        return found

    assert sends(cluster.b) == {}
    sent = sends(cluster.a)
    scans = sent.get("chains-scan", [])
    assert window / SCAN_INTERVAL - 2 <= len(scans) <= window / SCAN_INTERVAL + 1, sent
    for entry, times in sent.items():
        schedule = settings.CELERY_BEAT_SCHEDULE[entry]["schedule"]
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        assert all(gap >= schedule * 0.75 for gap in gaps), (entry, gaps)
    assert any("standing by" in r.get("message", "") for r in cluster.b.records("beat"))


def _cursor(cluster: Cluster, network: str) -> tuple[int, str]:
    ((last_block, owner),) = cluster.database.query(
        "SELECT last_block, lease_owner FROM chains_chaincursor WHERE network = %s", [network]
    )
    return last_block, owner


def test_both_nodes_scanners_honour_a_networks_one_scan_lease(cluster):
    # given: both nodes scanning (each node's head follower; beat's passes on the chain
    # workers scan a network only while no follower polls it); the test takes local-a's
    # lease, as a third scanner would (the watcher's conditional UPDATE: only when free or
    # expired)
    owner = f"{int(time.time())}:0:{secrets.token_hex(4)}:two-nodes-test"
    deadline = time.monotonic() + 30
    while not cluster.database.query(
        "UPDATE chains_chaincursor SET lease_owner = %s, lease_until = now() + interval '5 min'"
        " WHERE network = 'local-a' AND (lease_until IS NULL OR lease_until < now())"
        " RETURNING 1",
        [owner],
    ):
        assert time.monotonic() < deadline, "local-a's lease never came free"
        time.sleep(0.05)
    held_at, (before, _) = time.time(), _cursor(cluster, "local-a")
    try:
        # when: scans of local-a keep being scheduled, and blocks keep coming (the
        # followers are refused within a block or two, so wait for the blocks as well)
        deadline = time.monotonic() + 60
        refused: dict[str, int] = {}
        head = before
        while time.monotonic() < deadline and (
            set(refused) != {"node-a", "node-b"} or head <= before + 2
        ):
            time.sleep(1)
            head = cluster.chains["local-a"].eth.block_number
            for node in (cluster.a, cluster.b):
                skipped = [
                    r
                    for program in ("follower", "worker-chain-0")
                    for r in _since(node.records(program), held_at)
                    if r.get("message") == "chain scan skipped" and r.get("holder") == owner
                ]
                if skipped:
                    refused[node.name] = len(skipped)
        # then: the scanners of both nodes were refused, and none scanned under our lease
        assert set(refused) == {"node-a", "node-b"}, refused
        assert head > before + 2
        assert _cursor(cluster, "local-a") == (before, owner)
    finally:
        cluster.database.query(
            "UPDATE chains_chaincursor SET lease_owner = '', lease_until = NULL"
            " WHERE lease_owner = %s RETURNING 1",
            [owner],
        )
    # and once it is free again, a worker takes it and catches up
    deadline = time.monotonic() + 60
    while _cursor(cluster, "local-a")[0] < head - 1:
        assert time.monotonic() < deadline, _cursor(cluster, "local-a")
        time.sleep(0.5)


def _token(cluster: Cluster, network: str):
    ((address,),) = cluster.database.query(
        "SELECT address FROM chains_asset WHERE network = %s AND symbol = 'TEST'", [network]
    )
    return cluster.chains[network].eth.contract(
        address=Web3.to_checksum_address(address),
        abi=compiler.compile_contract("TestToken").abi,
    )


def _ws_states(url: str, token: str, origin: str):
    """A WebSocket on /ws/swaps/{id}/ as the party of `token`, and a reader of its states."""
    from websockets.sync.client import connect

    socket_ = connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}"},
        origin=origin,  # type: ignore[arg-type]
        ssl=tls_context(),
        open_timeout=30,
    )

    def next_state(timeout: float) -> str:
        message = json.loads(socket_.recv(timeout=timeout))
        return message["swap"]["state"] if message.get("type") == "swap" else ""

    return socket_, next_state


def test_a_rolling_restart_of_a_node_with_one_web_process_is_refused(cluster):
    # when: its only web process would leave nginx nothing to send to
    result = subprocess.run(
        [sys.executable, "-m", "config.prodreload"],
        cwd=BASE_DIR,
        env=cluster.b.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # then
    assert result.returncode == 2, result.stdout + result.stderr
    assert "needs WEB_PROCESSES of at least 2" in result.stdout


def test_a_swap_node_a_worked_on_is_finished_by_node_b_after_node_a_dies(cluster):
    """Last in this module: node A does not come back."""
    a, b = cluster.a, cluster.b
    rpcs = {
        31337: cluster.chains["local-a"].provider.endpoint_uri,
        31338: cluster.chains["local-b"].provider.endpoint_uri,
    }
    # given: the maker lists 3 ETH on local-a for TEST on local-b; the taker takes 1.5;
    # every HTTP call goes through the front load balancer
    maker = Party(Api(cluster.front, verify_tls=False), anvil_key(1), rpcs).sign_in()
    taker = Party(Api(cluster.front, verify_tls=False), anvil_key(2), rpcs).sign_in()
    listing = post_listing(
        maker,
        base=asset_id(maker.api, "local-a", "ETH"),
        quote=asset_id(maker.api, "local-b", "TEST"),
        amount="3",
        price="2.5",
        min_trade="0.5",
        max_trade="2",
    )
    swap, secret = take(taker, listing["id"], "1.5")
    path = f"/api/v1/swaps/{swap['id']}/"
    eth_a, test_b = cluster.chains["local-a"].eth, _token(cluster, "local-b")
    relayer_b = account_for(role="RELAYER", network="local-b").address
    before = {
        "maker_eth": eth_a.get_balance(maker.address),
        "taker_eth": eth_a.get_balance(taker.address),
        "maker_test": test_b.functions.balanceOf(maker.address).call(),
        "taker_test": test_b.functions.balanceOf(taker.address).call(),
        "relayer_test": test_b.functions.balanceOf(relayer_b).call(),
    }
    # and: only node A's chain worker runs; a WebSocket client follows the swap on node B
    supervisorctl(b.conf, "stop", CHAIN_WORKER)
    socket_, next_state = _ws_states(
        f"wss://127.0.0.1:{b.https_port}/ws/swaps/{swap['id']}/", taker.api.token, cluster.front
    )
    try:
        assert next_state(30) == "created"
        # when: the taker approves and locks TEST on local-b, as next_action says
        for expected in ("approve", "lock"):
            step = taker.api.get(path)["next_action"]
            assert step["action"] == expected, step
            taker.send(step)
        # then: node A's worker confirms the lock, and node B's client is told
        deadline = time.monotonic() + 90
        state = ""
        while state != "taker_locked":
            assert time.monotonic() < deadline, "no taker_locked pushed on node B"
            state = next_state(max(deadline - time.monotonic(), 0.1)) or state
    finally:
        socket_.close()
    assert supervisorctl(b.conf, "status", CHAIN_WORKER).split()[1] == "STOPPED"

    # given: node B's chain worker back
    restarted = time.time()
    supervisorctl(b.conf, "start", CHAIN_WORKER)
    b.wait_for("worker-chain-0", "ready.", since=restarted, timeout=180)
    # when: node A dies outright, mid-swap (after the taker's lock, before the maker's)
    killed = time.time()
    a.kill()
    # and the parties carry on through the front: the maker locks, the taker redeems
    timeline = drive(maker, taker, swap["id"], secret, timeout=240)

    # then: node B finished the swap: its beat took over scheduling, its workers read the
    # chains, its relayer redeemed the taker's lock for the maker
    final = timeline.final
    assert final["state"] == "completed", final
    assert [e["to_state"] for e in final["history"]] == [
        "created",
        "taker_locked",
        "maker_locked",
        "secret_revealed",
        "completed",
    ]
    b.wait_for("beat", "beat lock acquired", since=killed, timeout=1)
    # and every balance moved by exactly the swap's amounts (plus each party's own gas)
    maker_lock, taker_redeem = timeline.sent["maker:lock"], timeline.sent["taker:redeem"]
    assert (
        eth_a.get_balance(maker.address) == before["maker_eth"] - 15 * 10**17 - maker_lock.fee_wei
    )
    assert (
        eth_a.get_balance(taker.address) == before["taker_eth"] + 15 * 10**17 - taker_redeem.fee_wei
    )
    assert test_b.functions.balanceOf(maker.address).call() == before["maker_test"] + 3_750_000
    assert test_b.functions.balanceOf(taker.address).call() == before["taker_test"] - 3_750_000
    assert test_b.functions.balanceOf(relayer_b).call() == before["relayer_test"]
    # and each swap event on the chains (a lock and a redeem on each) was stored once, by
    # whichever node's worker read it: none missing, none twice
    swap_events = _swap_events()
    for network, w3 in cluster.chains.items():
        htlcs = [
            Web3.to_checksum_address(address)
            for (address,) in cluster.database.query(
                "SELECT address FROM chains_deployment WHERE network = %s AND contract = 'HTLC'",
                [network],
            )
        ]
        logs = w3.eth.get_logs({"address": htlcs, "fromBlock": 0, "toBlock": "latest"})
        on_chain = sorted(
            (log["transactionHash"].to_0x_hex(), log["logIndex"], swap_events[topic])
            for log in logs
            if (topic := log["topics"][0].to_0x_hex()) in swap_events
        )
        stored = sorted(
            cluster.database.query(
                "SELECT tx_hash, log_index, name FROM chains_chainevent"
                " WHERE network = %s AND lower(contract) = ANY(%s)",
                [network, [address.lower() for address in htlcs]],
            )
        )
        assert sorted(name for *_, name in on_chain) == ["Locked", "Redeemed"], on_chain
        assert stored == on_chain, network
