"""`make prod` on this machine: Debian's nginx and supervisor in front of two web processes,
two workers (chain and mail queues) and one beat, with the prod settings.

Started once for the module (``python -m config.prodstack``, as ``make prod`` does) in a
scratch folder, on free ports, against a scratch database (PostgreSQL when the run has one,
else SQLite). Skips, saying why, without nginx or supervisor (``make ops-deps``).
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from config.prodstack import BASE_DIR, kill_leftovers
from ops.tests.support import (
    ScratchPostgres,
    free_port,
    http_request,
    require_binary,
    tls_context,
    wait_running,
)

# The first test also waits for the start: migrations of a fresh database, then six
# processes importing the app (seconds on an idle machine, minutes on a loaded one).
START_TIMEOUT = 420.0
pytestmark = [pytest.mark.slow, pytest.mark.timeout(START_TIMEOUT + 120)]


class _Database:
    """A scratch database for the stack: a PostgreSQL database of its own, or SQLite."""

    def __init__(self, folder: Path):
        run_url = os.environ.get("DATABASE_URL", "") if settings.USING_POSTGRES else ""
        self.postgres = ScratchPostgres(run_url, "prodstack") if run_url else None
        self.url = self.postgres.url if self.postgres else f"sqlite:///{folder / 'prod.sqlite3'}"

    def drop(self) -> None:
        if self.postgres:
            self.postgres.drop()


def _env(folder: Path, database: _Database, http: int, https: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        PROD_DIR=str(folder / "prod"),
        VAR_DIR=str(folder / "var"),
        STATIC_ROOT=str(folder / "static"),
        PROD_HTTP_PORT=str(http),
        PROD_HTTPS_PORT=str(https),
        WEB_PROCESSES="2",
        WORKER_PROCESSES="2",
        DATABASE_URL=database.url,
        SECRET_KEY=secrets.token_urlsafe(64),
        JWT_SIGNING_KEY=secrets.token_urlsafe(48),
        METRICS_TOKEN=secrets.token_urlsafe(24),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SITE_URL=f"https://127.0.0.1:{https}",
        EMAIL_URL="smtp://127.0.0.1:2525",
        REDIS_KEY_PREFIX=f"prodtest-{secrets.token_hex(4)}",
        STAFF_MFA_REQUIRED="true",
        # The reload tests' clients all come from 127.0.0.1.
        API_THROTTLE_ANON="100000/minute",
    )
    return env


@pytest.fixture(scope="module")
def stack(request):
    require_binary("nginx", "nginx")
    require_binary("supervisord", "supervisor")
    failed_before = request.session.testsfailed
    folder = Path(tempfile.mkdtemp(prefix="prodstack-"))
    folder.chmod(0o755)  # nginx's workers (www-data) read static files and sockets here
    database = _Database(folder)
    http, https = free_port(), free_port()
    env = _env(folder, database, http, https)
    log = (folder / "prodstack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "config.prodstack"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"https://127.0.0.1:{https}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "make prod did not come up:\n"
                    + (folder / "prodstack.log").read_text(errors="replace")[-4000:]
                )
            try:
                if http_request(f"{base}/health/live")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        yield {
            "base": base,
            "http": f"http://127.0.0.1:{http}",
            "https_port": https,
            "conf": folder / "prod" / "supervisord.conf",
            "env": env,
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # supervisord stops its programs
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        kill_leftovers(folder / "prod")
        log.close()
        database.drop()
        if request.session.testsfailed == failed_before:
            shutil.rmtree(folder, ignore_errors=True)  # kept when a test failed: its logs


def _wait_running(stack, names: set[str], timeout: float = 60.0) -> dict:
    return wait_running(stack["conf"], names, timeout)


PROGRAMS = {
    "web:web-0",
    "web:web-1",
    "worker-chain:worker-chain-0",
    "worker-mail",
    "follower",
    "beat",
    "nginx",
}


def test_every_process_of_the_topology_runs_under_supervisor(stack):
    rows = _wait_running(stack, PROGRAMS)
    assert set(rows) == PROGRAMS


def test_https_with_http2_and_plain_http_redirected(stack):
    # then: TLS offers HTTP/2 (ALPN)
    context = tls_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", stack["https_port"]), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "h2"
    # and the app answers through nginx, which tells it the request was https
    status, _, body = http_request(f"{stack['base']}/health/ready")
    assert status == 200, body
    # and plain http is sent to https
    status, headers, _ = http_request(f"{stack['http']}/market/")
    assert status == 301
    assert headers["Location"] == f"https://127.0.0.1:{stack['https_port']}/market/"


def test_html_and_json_are_gzipped(stack):
    for path in ("/", "/api/schema/?format=json"):
        status, headers, body = http_request(f"{stack['base']}{path}", {"Accept-Encoding": "gzip"})
        assert status == 200, path
        assert headers["Content-Encoding"] == "gzip", path
        assert len(gzip.decompress(body)) > len(body)


def test_a_body_over_the_limit_is_a_413_in_the_apis_shape(stack):
    size = settings.REQUEST_MAX_BYTES + 1
    status, headers, body = http_request(
        f"{stack['base']}/api/v1/swaps/",
        {"Content-Type": "application/json"},
        data=b" " * size,
        method="POST",
    )
    assert status == 413
    assert json.loads(body)["code"] == "request_too_large"


def test_websockets_are_upgraded_through_nginx(stack):
    from websockets.sync.client import connect

    url = f"wss://127.0.0.1:{stack['https_port']}/ws/prices/"
    with connect(url, ssl=tls_context(), origin=stack["base"], open_timeout=15) as socket_:
        first = json.loads(socket_.recv(timeout=15))
    assert first["type"] == "snapshot"


def test_each_web_process_shows_its_own_metrics_behind_the_token(stack):
    # then: /metrics/web-N reaches process N (Prometheus scrapes each: deploy/prometheus)
    bearer = {"Authorization": f"Bearer {stack['env']['METRICS_TOKEN']}"}
    for n in range(2):
        status, _, body = http_request(f"{stack['base']}/metrics/web-{n}", bearer)
        assert status == 200 and b"http_requests_total" in body
    # and never without the token
    status, _, body = http_request(f"{stack['base']}/metrics/web-0")
    assert status == 403 and json.loads(body)["code"] == "forbidden"


def test_a_killed_web_process_is_restarted_and_requests_keep_succeeding(stack):
    # given
    before = _wait_running(stack, {"web:web-0"})["web:web-0"][1]
    pid = int(before.split(",")[0].removeprefix("pid "))
    # when: kill -9, while requests keep coming
    os.kill(pid, signal.SIGKILL)
    statuses = [http_request(f"{stack['base']}/health/live")[0] for _ in range(20)]
    # then: nginx sent them to the other process; supervisor restarted the dead one
    assert statuses == [200] * 20
    after = _wait_running(stack, {"web:web-0"})["web:web-0"][1]
    assert int(after.split(",")[0].removeprefix("pid ")) != pid


def test_make_prod_refuses_without_its_required_variables(stack, tmp_path):
    env = dict(stack["env"], PROD_DIR=str(tmp_path))
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "-m", "config.prodstack", "--render"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SECRET_KEY must be set" in result.stderr


WEB = {"web:web-0", "web:web-1"}


def _pids(stack, names: set[str]) -> dict[str, int]:
    rows = _wait_running(stack, names)
    return {n: int(rows[n][1].split(",")[0].removeprefix("pid ")) for n in names}


def _release(stack) -> Path:
    return (Path(stack["env"]["PROD_DIR"]) / "current").resolve()


def _reload(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "config.prodreload", *args],
        cwd=BASE_DIR,
        env=stack["env"],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


class _Load:
    """Clients sending requests through nginx, one after another, until the block ends.

    Each request's status must be the one it had before (readiness, an API read, an
    invalid API write refused): a 502, 503 or a connection error is a failed request.
    """

    REQUESTS = (
        ("GET", "/health/ready", None),
        ("GET", "/api/v1/assets/", None),
        ("POST", "/api/v1/swaps/", b"{not json"),
    )

    def __init__(self, base: str, clients: int = 3):
        self.base = base
        self.expected = {(m, p): self._send(m, p, d) for m, p, d in self.REQUESTS}
        self.answers: list[tuple[str, str, object]] = []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def _send(self, method: str, path: str, data: bytes | None) -> object:
        headers = {"Content-Type": "application/json"} if data else {}
        try:
            return http_request(f"{self.base}{path}", headers, data=data, method=method)[0]
        except OSError as error:
            return repr(error)

    def _client(self) -> None:
        while not self.stopping.is_set():
            for method, path, data in self.REQUESTS:
                self.answers.append((method, path, self._send(method, path, data)))

    @property
    def failures(self) -> list:
        return [a for a in self.answers if a[2] != self.expected[a[:2]]]

    def __enter__(self) -> _Load:
        assert list(self.expected.values())[:2] == [200, 200], self.expected
        assert 400 <= self.expected[("POST", "/api/v1/swaps/")] < 500, self.expected
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_a_reload_restarts_every_process_on_a_new_release_with_no_failed_request(stack):
    # given
    programs = PROGRAMS - {"nginx"}
    before, previous = _pids(stack, programs), _release(stack)
    # when: make prod-reload while clients keep sending requests through nginx
    with _Load(stack["base"]) as load:
        result = _reload(stack)
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert load.failures == [], (load.failures, result.stdout)
    assert len(load.answers) > 30
    # and each process is a new one; the web processes run the new release
    after, release = _pids(stack, programs), _release(stack)
    assert release != previous
    assert sorted(n for n in programs if after[n] == before[n]) == []
    for name in WEB:
        assert Path(f"/proc/{after[name]}/cwd").resolve() == release
    assert f"done: release {release.name} current, 6 processes restarted" in result.stdout


def test_a_reload_whose_web_process_cannot_start_rolls_back_with_no_failed_request(stack, tmp_path):
    # given: a release whose application fails to import
    previous = _release(stack)
    broken = tmp_path / "broken"
    shutil.copytree(previous, broken, symlinks=True)
    (broken / "config" / "asgi.py").write_text('raise RuntimeError("cannot start")\n')
    before = _pids(stack, WEB)
    # when
    with _Load(stack["base"]) as load:
        result = _reload(stack, "--source", str(broken), "--ready-timeout", "60")
    # then: it failed, saying why, and the previous release is current again
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED: web:web-0 exited while starting" in result.stdout, result.stdout
    assert f"rolled back: release {previous.name} is current again" in result.stdout
    assert _release(stack) == previous
    # and no request failed meanwhile; web-1 was never touched, web-0 runs the old release
    assert load.failures == [], (load.failures, result.stdout)
    after = _pids(stack, WEB)
    assert after["web:web-1"] == before["web:web-1"]
    assert after["web:web-0"] != before["web:web-0"]
    assert Path(f"/proc/{after['web:web-0']}/cwd").resolve() == previous
    # and both answer through nginx again
    bearer = {"Authorization": f"Bearer {stack['env']['METRICS_TOKEN']}"}
    for n in range(2):
        assert http_request(f"{stack['base']}/metrics/web-{n}", bearer)[0] == 200


def test_a_second_reload_while_one_runs_is_refused_and_changes_nothing(stack):
    import fcntl

    # given: a reload holds the node's reload lock
    release = _release(stack)
    with (Path(stack["env"]["PROD_DIR"]) / "reload.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # when
        result = _reload(stack)
    # then
    assert result.returncode == 2, result.stdout + result.stderr
    assert "another reload is running" in result.stdout
    assert _release(stack) == release
