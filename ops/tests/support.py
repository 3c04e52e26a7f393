"""Shared helpers of the ops tests: free ports, the stacks' self-signed TLS, plain HTTP
without redirects, scratch PostgreSQL databases, supervisorctl and process trees."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest


def require_binary(name: str, package: str) -> str:
    """The path of `name`, or skip the test saying which Debian package provides it."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not found: apt-get install {package} (make ops-deps)")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_context() -> ssl.SSLContext:
    """A client context that accepts the stacks' own self-signed certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_request(
    url: str,
    headers: dict | None = None,
    data: bytes | None = None,
    method: str = "GET",
    timeout: float = 15.0,
):
    """(status, headers, body) without following redirects; HTTP errors are answers too."""
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=tls_context())
    )
    request = urllib.request.Request(url, headers=headers or {}, data=data, method=method)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class ScratchPostgres:
    """A PostgreSQL database of its own next to the run's (`run_url`), created and dropped
    from the server's maintenance database."""

    def __init__(self, run_url: str, prefix: str):
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        self.admin_url = urlunsplit(urlsplit(run_url)._replace(path="/postgres"))
        self.url = urlunsplit(urlsplit(run_url)._replace(path=f"/{self.name}"))
        self._execute(f'CREATE DATABASE "{self.name}"')

    def _execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql)

    def query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        """The rows of one read in the scratch database."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def drop(self) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def supervisor_status(conf: Path) -> dict[str, tuple[str, str]]:
    """``supervisorctl status`` of the supervisord run from `conf`: {name: (state, rest)}."""
    out = subprocess.run(
        ["supervisorctl", "-c", str(conf), "status"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    rows = {}
    for line in out.splitlines():
        name, state, *rest = line.split(None, 2)
        rows[name] = (state, rest[0] if rest else "")
    return rows


def supervisorctl(conf: Path, *args: str) -> str:
    """Run one supervisorctl command (``stop worker-chain:*``...); its output."""
    return subprocess.run(
        ["supervisorctl", "-c", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def wait_running(conf: Path, names: set[str], timeout: float = 60.0) -> dict:
    """supervisor's status once every program in `names` is RUNNING; fails the test after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        rows = supervisor_status(conf)
        if all(rows.get(n, ("",))[0] == "RUNNING" for n in names):
            return rows
        if time.monotonic() > deadline:
            pytest.fail(f"not all running: {rows}")
        time.sleep(0.5)


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it (read from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def kill_tree(pid: int) -> list[int]:
    """SIGKILL `pid` and all its descendants at once, as a machine losing power would (a
    supervisor's programs run in process groups of their own, so killing its group is
    not enough); the pids signalled."""
    tree = process_tree(pid)
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return tree
