"""`make run`'s supervisor, run for real: chains, web, worker, beat; then Ctrl-C."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import websockets
from django.conf import settings

from chains.anvil import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait(probe, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(interval)
    return None


def _processes_with(marker: str) -> list[int]:
    """Pids whose environment contains `marker` (every child inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def _ws_ping(url: str, origin: str) -> dict:
    async with websockets.connect(url, origin=origin, open_timeout=10) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        return json.loads(await asyncio.wait_for(ws.recv(), timeout=10))


@pytest.fixture
def marker() -> str:
    """A value no other run shares, inherited by every process the stack starts."""
    return f"DEVSTACK_TEST_MARKER={uuid.uuid4().hex}"


@pytest.fixture
def stack_env(tmp_path, marker):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(settings.STATIC_ROOT),  # collected once for the session
        PORT=str(free_port()),
        ANVIL_A_PORT=str(free_port()),
        ANVIL_B_PORT=str(free_port()),
        WORKER_HEARTBEAT_SECONDS="1",
        DEVSTACK_TEST_MARKER=marker.split("=", 1)[1],
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    return env


def test_make_run_serves_everything_and_ctrl_c_leaves_nothing(stack_env, marker, tmp_path):
    # given: the supervisor started as `make run` starts it
    base = f"http://127.0.0.1:{stack_env['PORT']}"
    log = (tmp_path / "stack.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.devstack"], cwd=ROOT, env=stack_env, stdout=log, stderr=log
    )
    try:
        banner = _wait(lambda: "Press Ctrl-C" in (tmp_path / "stack.log").read_text(), 90)
        output = (tmp_path / "stack.log").read_text()
        assert banner, output
        # when / then: the pages, the API docs and readiness
        assert f"{base}/" in output
        assert "alice@example.com" in output
        assert f"http://127.0.0.1:{stack_env['ANVIL_A_PORT']}" in output
        for path in ("/", "/api/schema/", "/api/docs/"):
            assert _get(base + path)[0] == 200, path
        status, body = _get(base + "/health/ready")
        assert status == 200, body
        checks = json.loads(body)["checks"]
        assert checks["chain:local-a"]["status"] == "ok"
        assert checks["chain:local-b"]["status"] == "ok"
        # WebSockets go through the same ASGI server
        pong = asyncio.run(_ws_ping(base.replace("http", "ws") + "/ws/ping/", base))
        assert pong == {"type": "pong"}
        # beat schedules a heartbeat, the worker runs it, the web process sees it
        heartbeat = _wait(
            lambda: (
                json.loads(_get(base + "/health/ready")[1])["checks"]["worker_heartbeat"]["status"]
                == "ok"
            ),
            60,
            1.0,
        )
        assert heartbeat, (tmp_path / "stack.log").read_text()[-3000:]
        # contracts were deployed on both chains and their assets registered
        networks = json.loads(_get(base + "/api/v1/chains/")[1])["results"]
        assert {n["name"] for n in networks if n["htlc_address"]} == {"local-a", "local-b"}
        assets = json.loads(_get(base + "/api/v1/assets/")[1])["results"]
        assert sorted((a["network"], a["symbol"]) for a in assets) == [
            ("local-a", "ETH"),
            ("local-a", "TEST"),
            ("local-b", "ETH"),
            ("local-b", "TEST"),
        ]

        # the watcher, run by the head follower and by beat and the worker, follows both chains
        def watcher_cursor_advanced() -> bool:
            checks = json.loads(_get(base + "/health/ready")[1])["checks"]
            return all(
                checks[f"watcher:{n}"]["status"] == "ok"
                and checks[f"watcher:{n}"]["detail"].startswith("cursor ")
                and not checks[f"watcher:{n}"]["detail"].startswith("cursor -1")
                for n in ("local-a", "local-b")
            )

        assert _wait(watcher_cursor_advanced, 60, 1.0), _get(base + "/health/ready")[1]
        # when: Ctrl-C
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:  # a failed assertion: still stop the stack the normal way
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
    # then: everything it started is gone
    assert code == 0
    assert _wait(lambda: not _processes_with(marker), 10), _processes_with(marker)
