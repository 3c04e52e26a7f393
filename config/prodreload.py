"""`make prod-reload`: a health-gated rolling restart of a running ``make prod`` node.

A reload deploys a new release: a copy of the checkout (``--source``) under
``PROD_DIR/releases/``, checked, migrated and collected by its own code
(``prodstack --release-checks``), then made ``PROD_DIR/current``. Each web process in
turn is taken out of nginx's rotation (nginx re-rendered with it ``down``, reloaded
gracefully, its old workers drained), restarted by supervisor (uvicorn finishes its
in-flight requests on SIGTERM), and put back only once the new process answers
``GET /health/ready`` with 200 on its own socket. Then the chain workers, the mail
worker, the head follower and the beat are restarted one at a time (Celery's warm
shutdown; tasks are idempotent).

When a web process is not ready within ``--ready-timeout`` (or a worker does not start),
the reload rolls back: ``current`` and the static-files manifest go back to the previous
release, the processes already restarted are restarted on it, health-gated the same way,
and the ones not reached yet were never touched. It exits 1 then (2 when the rollback
itself failed). Migrations are not reversed: a release's migrations must keep the
previous release working (add first, remove a release later).
"""

from __future__ import annotations

import argparse
import fcntl
import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import prodstack

# Seconds a new web process has to answer /health/ready with 200 (imports, pool, checks).
DEFAULT_READY_TIMEOUT = 120.0
# Seconds nginx's previous workers get to finish their requests before a restart goes on.
DEFAULT_DRAIN_TIMEOUT = 30.0
# supervisor's stopwaitsecs for the workers is 60 s: an RPC may wait that long.
RPC_TIMEOUT = 120.0
FAILED_STATES = {"BACKOFF", "EXITED", "FATAL"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        type=Path,
        default=prodstack.BASE_DIR,
        help="the code to deploy (default: this checkout)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=float(os.environ.get("PROD_RELOAD_READY_TIMEOUT", DEFAULT_READY_TIMEOUT)),
        help="seconds a new web process has to answer /health/ready (PROD_RELOAD_READY_TIMEOUT)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=float(os.environ.get("PROD_RELOAD_DRAIN_TIMEOUT", DEFAULT_DRAIN_TIMEOUT)),
        help="seconds nginx's previous workers get to finish (PROD_RELOAD_DRAIN_TIMEOUT)",
    )


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (a web process's, or supervisord's)."""

    def __init__(self, path: Path, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self.socket_path))
        self.sock = sock


class _SupervisorTransport(xmlrpc.client.Transport):
    def __init__(self, path: Path):
        super().__init__()
        self.socket_path = path

    def make_connection(self, host):  # type: ignore[override]
        return UnixHTTPConnection(self.socket_path, RPC_TIMEOUT)


def web_ready(path: Path, host: str) -> bool:
    """Whether the web process on socket `path` answers ``GET /health/ready`` with 200."""
    connection = UnixHTTPConnection(path, timeout=10)
    try:
        # As nginx would send it: the site's host, and https (else the prod settings redirect).
        connection.request(
            "GET", "/health/ready", headers={"Host": host, "X-Forwarded-Proto": "https"}
        )
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _children(pid: int) -> set[int]:
    """The live child processes of `pid` (Linux /proc)."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    return found


class NotReady(Exception):
    """A restarted process did not come up; the message says which and why."""


@dataclass
class Rollout:
    """One reload's moves on a running node, each printed on its own line."""

    topology: prodstack.Topology
    static_root: Path
    max_body: int
    ready_timeout: float
    drain_timeout: float
    release: Path
    down: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        # supervisor's XML-RPC namespace (its answers are plain dicts and lists).
        self.rpc: Any = xmlrpc.client.ServerProxy(
            "http://localhost",
            transport=_SupervisorTransport(self.topology.prod_dir / "supervisor.sock"),
        ).supervisor

    @staticmethod
    def say(text: str) -> None:
        print(f"prod-reload: {text}", flush=True)

    def processes(self, group: str) -> list[str]:
        rows = self.rpc.getAllProcessInfo()
        return sorted(f"{r['group']}:{r['name']}" for r in rows if r["group"] == group)

    def pid(self, name: str) -> int:
        return self.rpc.getProcessInfo(name)["pid"]

    def nginx(self) -> None:
        """Render nginx.conf (`down` out of rotation) and reload nginx, then let the
        previous workers finish what they were sending (bounded by the drain timeout)."""
        prodstack.render(
            self.topology,
            static_root=self.static_root,
            max_body=self.max_body,
            down=frozenset(self.down),
            deploy=self.release / "deploy",
        )
        nginx_dir = self.topology.prod_dir / "nginx"
        master = int((nginx_dir / "nginx.pid").read_text())
        previous = _children(master)
        subprocess.run(  # noqa: S603 - nginx's own binary, our rendered paths
            [prodstack.nginx_binary(), "-p", str(nginx_dir), "-c", str(nginx_dir / "nginx.conf")]
            + ["-s", "reload"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        deadline = time.monotonic() + self.drain_timeout
        while previous & _children(master):
            if time.monotonic() > deadline:
                # Long-lived connections (WebSockets) keep an old worker; their clients
                # reconnect when the process behind them stops.
                self.say("nginx: previous workers still draining, going on")
                return
            time.sleep(0.1)

    def stop(self, name: str) -> None:
        try:
            self.rpc.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def restart_web(self, name: str) -> str:
        """Out of rotation, restart, wait for readiness on its socket, back in rotation."""
        index = int(name.rsplit("-", 1)[1])
        before = self.pid(name)
        self.down.add(index)
        self.nginx()
        self.say(f"{name}: out of nginx's rotation")
        self.stop(name)
        started = time.monotonic()
        self.rpc.startProcess(name, False)
        sock = self.topology.prod_dir / "run" / f"web-{index}.sock"
        while True:
            info = self.rpc.getProcessInfo(name)
            if info["statename"] in FAILED_STATES:
                log = self.topology.prod_dir / "logs" / f"web-{index}.log"
                raise NotReady(f"{name} exited while starting ({info['statename']}; see {log})")
            if info["statename"] == "RUNNING" and web_ready(sock, self.topology.server_name):
                break
            if time.monotonic() - started > self.ready_timeout:
                raise NotReady(
                    f"{name} did not answer /health/ready with 200 on its socket"
                    f" within {self.ready_timeout:g} s"
                )
            time.sleep(0.5)
        self.down.discard(index)
        self.nginx()
        self.say(
            f"{name}: pid {before} -> {info['pid']}, ready in"
            f" {time.monotonic() - started:.1f} s, back in rotation"
        )
        return name

    def restart_worker(self, name: str) -> str:
        """Warm shutdown (SIGTERM: running tasks finish), then started and RUNNING."""
        before = self.pid(name)
        self.stop(name)
        try:
            self.rpc.startProcess(name, True)
        except xmlrpc.client.Fault as fault:
            raise NotReady(f"{name} did not start ({fault.faultString})") from fault
        self.say(f"{name}: pid {before} -> {self.pid(name)}")
        return name

    def restart(self, name: str) -> str:
        return self.restart_web(name) if name.startswith("web:") else self.restart_worker(name)


def reload(
    topology: prodstack.Topology, args: argparse.Namespace, *, static_root: Path, max_body: int
) -> int:
    """One reload at a time per PROD_DIR (a second one is refused); ``_reload`` does it."""
    topology.prod_dir.mkdir(parents=True, exist_ok=True)
    with (topology.prod_dir / "reload.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            Rollout.say(f"refused: another reload is running on {topology.prod_dir}")
            return 2
        return _reload(topology, args, static_root=static_root, max_body=max_body)


def _reload(
    topology: prodstack.Topology, args: argparse.Namespace, *, static_root: Path, max_body: int
) -> int:
    """Deploy ``args.source`` as a new release with a rolling restart; the exit status.

    Precondition: ``make prod`` runs on this PROD_DIR. Side effects: a new release
    directory, migrations applied, static files collected, every program restarted
    (on the new release, or, after a failure, the restarted ones on the previous one).
    """
    say = Rollout.say
    started = time.monotonic()
    previous = prodstack.release_current(topology)
    sock = topology.prod_dir / "supervisor.sock"
    if previous is None or not sock.exists():
        say(f"refused: no running make prod in {topology.prod_dir} (start it first)")
        return 2
    if topology.web_processes < 2:
        # Its only web process out of rotation would leave nginx nothing to send to.
        say("refused: a rolling restart needs WEB_PROCESSES of at least 2 (restart make prod)")
        return 2
    release = prodstack.release_create(topology, args.source.resolve())
    say(f"release {release.name} copied from {args.source}")
    checks = subprocess.run(
        [sys.executable, "-m", "config.prodstack", "--release-checks"], cwd=release, check=False
    )
    if checks.returncode != 0:
        prodstack.manifest_restore(static_root, previous)
        shutil.rmtree(release, ignore_errors=True)
        say(f"refused: release {release.name} failed its checks; nothing was restarted")
        return 1
    prodstack.manifest_keep(static_root, release)
    prodstack.release_activate(topology, release)
    say(f"release {release.name} checked, migrated, collected; now current")
    rollout = Rollout(
        topology, static_root, max_body, args.ready_timeout, args.drain_timeout, release
    )
    order = [
        *rollout.processes("web"),
        *rollout.processes("worker-chain"),
        *rollout.processes("worker-mail"),
        *rollout.processes("follower"),
        *rollout.processes("beat"),
    ]
    restarted: list[str] = []
    try:
        for name in order:
            restarted.append(name)
            rollout.restart(name)
    except Exception as failure:
        # Whatever stopped it (a process not ready, nginx's reload, supervisor's RPC), the
        # processes already restarted go back to the previous release.
        say(f"FAILED: {failure}; rolling back to release {previous.name}")
        prodstack.release_activate(topology, previous)
        prodstack.manifest_restore(static_root, previous)
        rollout.release = previous
        try:
            for name in restarted:
                rollout.restart(name)
        except Exception as again:
            say(f"ROLLBACK FAILED: {again}; out of rotation: {sorted(rollout.down)}")
            return 2
        untouched = [name for name in order if name not in restarted]
        say(
            f"rolled back: release {previous.name} is current again ({', '.join(restarted)}"
            f" restarted on it; untouched: {', '.join(untouched) or 'none'}); reload failed"
            f" after {time.monotonic() - started:.0f} s"
        )
        return 1
    prodstack.release_prune(topology, keep={release, previous})
    say(
        f"done: release {release.name} current, {len(order)} processes restarted in"
        f" {time.monotonic() - started:.0f} s (previous: {previous.name})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    topology = prodstack.environment()
    if not prodstack.django_setup():
        return 2
    from django.conf import settings

    return reload(
        topology,
        args,
        static_root=Path(settings.STATIC_ROOT),
        max_body=settings.REQUEST_MAX_BYTES,
    )


if __name__ == "__main__":
    sys.exit(main())
