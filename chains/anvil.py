"""Start and stop a local anvil (Foundry) chain.

Shared by the contract test-suite and the ``make run`` supervisor, so it must
not depend on pytest or Django. ``node_modules/.bin/anvil`` is an npm shim
(a node script that spawns the native binary), which is why anvil runs in its
own process group and the whole group is killed on stop: killing only the
shim's pid would leave the real anvil holding the port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
ANVIL_BIN_ENV = "ANVIL_BIN"
DEFAULT_HOST = "127.0.0.1"


class AnvilError(RuntimeError):
    """anvil could not be found, did not start, or did not answer JSON-RPC."""


class AnvilNotFoundError(AnvilError, FileNotFoundError):
    """The anvil binary is missing (``npm ci`` not run, or bad ``ANVIL_BIN``)."""


def _native_binary() -> Path | None:
    """The platform binary the npm package ships (e.g. ``@foundry-rs/anvil-linux-amd64``).

    Launching it directly, rather than through the node shim, makes anvil our own child:
    we reap it on stop, so no exited anvil lingers as a zombie under an init that does
    not reap.
    """
    for candidate in sorted((REPO_ROOT / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def anvil_binary() -> Path:
    """Return the anvil executable: ``$ANVIL_BIN`` if set, else the npm package's native
    binary, else the ``node_modules/.bin/anvil`` shim.

    Raises:
        AnvilNotFoundError: the file does not exist or is not executable.
    """
    override = os.environ.get(ANVIL_BIN_ENV)
    path = (
        Path(override)
        if override
        else _native_binary() or REPO_ROOT / "node_modules" / ".bin" / "anvil"
    )
    if not (path.is_file() and os.access(path, os.X_OK)):
        hint = f"${ANVIL_BIN_ENV}" if override else "npm ci"
        raise AnvilNotFoundError(f"anvil not found or not executable at {path} (check {hint})")
    return path


def free_port(host: str = DEFAULT_HOST) -> int:
    """Return a TCP port that was free on ``host`` a moment ago.

    The OS picks it; another process could still grab it before anvil binds,
    so callers should treat a start failure as retryable.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def rpc_call(
    rpc_url: str, method: str, params: list[Any] | None = None, *, timeout: float = 2.0
) -> Any:
    """Send one JSON-RPC request with the stdlib and return its ``result``.

    Raises:
        ValueError: ``rpc_url`` is not http(s).
        AnvilError: the node answered with a JSON-RPC error.
        OSError / urllib.error.URLError: the node is unreachable.
    """
    if not rpc_url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP JSON-RPC URL: {rpc_url!r}")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        rpc_url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        payload = json.load(response)
    if "error" in payload:
        raise AnvilError(f"{method} failed: {payload['error']}")
    return payload["result"]


class AnvilProcess:
    """A running anvil node. Use as a context manager or call :meth:`stop`."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        *,
        host: str,
        port: int,
        chain_id: int,
        log: IO[bytes],
    ) -> None:
        self._process = process
        self._log = log
        self.host = host
        self.port = port
        self.chain_id = chain_id
        self._final_output: str | None = None

    @property
    def rpc_url(self) -> str:
        """HTTP JSON-RPC endpoint, e.g. ``http://127.0.0.1:8545``."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """Pid of the launched process, which is also its process-group id."""
        return self._process.pid

    def is_running(self) -> bool:
        """True while the launched process has not exited."""
        return self._process.poll() is None

    def output(self) -> str:
        """Everything anvil has printed so far (stdout and stderr), for diagnostics."""
        if self._final_output is not None:
            return self._final_output
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate anvil and everything in its process group; idempotent.

        Sends SIGTERM to the group, then SIGKILL if it has not exited within
        ``timeout`` seconds. Closes the log file.
        """
        if self._process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._process.wait(timeout=timeout)
        # The shim may exit before its child does; make sure the group is gone.
        self._signal_group(signal.SIGKILL)
        if not self._log.closed:
            self._final_output = self.output()
            self._log.close()

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self._process.pid, sig)
        except ProcessLookupError:
            pass

    def __enter__(self) -> AnvilProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"<AnvilProcess {self.rpc_url} chain_id={self.chain_id} pid={self.pid} {state}>"


def start_anvil(
    *,
    port: int,
    chain_id: int,
    block_time: float | None = None,
    host: str = DEFAULT_HOST,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 30.0,
) -> AnvilProcess:
    """Start anvil and return once it answers ``eth_chainId`` with ``chain_id``.

    Args:
        port: TCP port to listen on (see :func:`free_port`).
        chain_id: chain id to report; verified after start.
        block_time: seconds between blocks; ``None`` mines one block per transaction.
        host: listen address; loopback by default so the dev chain is not exposed.
        extra_args: further anvil flags, e.g. ``("--hardfork", "cancun")``.
        startup_timeout: seconds to wait for JSON-RPC before giving up.

    Side effects: spawns a process in a new session/process group; its output
    goes to an anonymous temporary file (see :meth:`AnvilProcess.output`).

    Raises:
        AnvilNotFoundError: the binary is missing.
        AnvilError: anvil exited, timed out, or reported a different chain id.
            The process group is killed before raising.
    """
    binary = anvil_binary()
    if not _port_is_free(host, port):
        # Otherwise a node already on the port could answer our readiness probe.
        raise AnvilError(f"port {port} on {host} is already in use")
    cmd = [str(binary), "--host", host, "--port", str(port), "--chain-id", str(chain_id)]
    if block_time is not None:
        cmd += ["--block-time", str(block_time)]
    cmd += list(extra_args)

    # A file, not a pipe: nobody drains anvil's per-transaction logging and a
    # full pipe would block the node.
    log = tempfile.TemporaryFile(prefix="anvil-")
    process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
        cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    node = AnvilProcess(process, host=host, port=port, chain_id=chain_id, log=log)
    try:
        _wait_until_ready(node, startup_timeout)
    except AnvilError as exc:
        output = node.output()
        node.stop()
        raise AnvilError(f"{exc}\n--- anvil output ---\n{output}") from exc
    except BaseException:
        node.stop()
        raise
    return node


def _wait_until_ready(node: AnvilProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not node.is_running():
            raise AnvilError(f"anvil exited with code {node._process.returncode} during startup")
        try:
            reported = int(rpc_call(node.rpc_url, "eth_chainId", timeout=1.0), 16)
        except (OSError, urllib.error.URLError, ValueError):
            reported = None
        if reported is not None and node.is_running():
            if reported != node.chain_id:
                raise AnvilError(
                    f"{node.rpc_url} reports chain id {reported}, expected {node.chain_id} "
                    "(is another node already on this port?)"
                )
            return
        if time.monotonic() > deadline:
            raise AnvilError(
                f"anvil did not answer eth_chainId on {node.rpc_url} within {timeout}s"
            )
        time.sleep(0.05)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option servers use, so a port lingering in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
