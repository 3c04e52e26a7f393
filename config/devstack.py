"""`make run`: the whole system in the foreground, and nothing left behind on Ctrl-C.

Starts two anvil chains, the ASGI server (HTTP and WebSocket), a Celery worker,
Celery beat and the head follower (``manage.py follow_chains``). Every child runs
in its own process group, so stopping it also stops whatever it spawned; children
are also told by the kernel to exit if this supervisor dies without cleaning up
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

STOP_TIMEOUT = 10.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Supervisor:
    children: dict[str, subprocess.Popen] = field(default_factory=dict)
    anvils: list = field(default_factory=list)
    stopping: bool = False

    def spawn(self, name: str, argv: list[str]) -> None:
        self.children[name] = subprocess.Popen(  # noqa: S603 (fixed argv)
            argv, start_new_session=True, preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL
        )

    def stop(self, *_: object) -> None:
        """Terminate every child group, wait, then kill what is left. Idempotent."""
        if self.stopping:
            return
        self.stopping = True
        for proc in self.children.values():
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)
        for anvil in self.anvils:
            anvil.stop()


def _signal_group(proc: subprocess.Popen, sig: signal.Signals) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from accounts.services import DEMO_ACCOUNTS, DEMO_PASSWORD
    from chains.anvil import start_anvil
    from chains.selectors import network_list

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    py = sys.executable
    sup = Supervisor()
    signal.signal(signal.SIGINT, sup.stop)
    signal.signal(signal.SIGTERM, sup.stop)
    try:
        if settings.CHAINS_LOCAL_ENABLED:
            for port_, chain_id in ((settings.ANVIL_A_PORT, 31337), (settings.ANVIL_B_PORT, 31338)):
                sup.anvils.append(start_anvil(port=port_, chain_id=chain_id, block_time=1))
            # HTLC and a test token on each chain, registered as assets (no-op when unchanged).
            call_command("deploy_contracts", "--network", "local-a", "--network", "local-b")
        sup.spawn(
            "web",
            [
                py,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-access-log",
                # The client address is ours to derive (core.client_ip, TRUSTED_PROXY_*):
                # uvicorn must not rewrite it from X-Forwarded-For sent by a loopback peer.
                "--no-proxy-headers",
                "--log-level",
                "warning",
            ],
        )
        sup.spawn(
            "worker",
            [
                py,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "chain,mail",
                "-l",
                "INFO",
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
            ],
        )
        sup.spawn(
            "beat",
            [
                py,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "INFO",
                "-s",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ],
        )
        # Scans each network as soon as a block is confirmed (chains/follower.py).
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        manage = os.path.join(root, "manage.py")
        sup.spawn("follower", [py, manage, "follow_chains"])
        url = f"http://{host}:{port}"
        if not _wait_http(f"{url}/health/live", timeout=60):
            print("The web server did not come up; stopping.", file=sys.stderr)
            return 1
        lines = [
            "",
            f"  P2P Swap is running at {url}/",
            f"  API docs: {url}/api/docs/",
            f"  Readiness: {url}/health/ready",
            f"  Demo accounts (password '{DEMO_PASSWORD}', local only):",
        ]
        lines += [
            f"    {a['email']}{'  (staff, /admin/)' if a['is_staff'] else ''}"
            for a in DEMO_ACCOUNTS
        ]
        lines += ["  Chains:"] + [
            f"    {n.name} (chain id {n.chain_id}): {n.rpc_url}" for n in network_list()
        ]
        lines += ["  Press Ctrl-C to stop everything.", ""]
        print("\n".join(lines), flush=True)
        while not sup.stopping:
            for name, proc in sup.children.items():
                if proc.poll() is not None and not sup.stopping:
                    print(f"{name} exited with {proc.returncode}; stopping.", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    finally:
        sup.stop()


if __name__ == "__main__":
    sys.exit(main())
