"""The real ASGI app (HTTP and WebSockets) served by uvicorn for the browser, and a TCP relay
that can cut every connection at once, as a network drop does.

uvicorn runs in a thread of the test process, so it shares the test settings and the test
database: the test database is a file on SQLite (config/settings/test.py) and a real
database on PostgreSQL, so the server's own connections see what a test committed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn


class LiveAsgiServer:
    """`config.asgi.application` on a loopback port, in a background thread."""

    def __init__(self) -> None:
        from config.asgi import application  # after collectstatic: WhiteNoise lists files once

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            application,
            lifespan="off",
            loop="asyncio",
            log_level="warning",
            access_log=False,
            proxy_headers=False,  # as in `make run`: core.client_ip derives the client address
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> LiveAsgiServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start serving the ASGI app")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


class TcpRelay:
    """Forwards a loopback port to `upstream_port`. `drop()` cuts every open connection
    without a closing handshake (the browser sees its WebSocket die, code 1006); while
    `refusing` is set, new connections are closed as soon as they arrive."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.refusing = False
        self.accepted = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            self.accepted += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._open.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            self._close(src, dst)

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with self._lock:
                self._open.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def drop(self) -> int:
        """Cut every open connection; returns how many sockets were cut."""
        with self._lock:
            victims = list(self._open)
        self._close(*victims)
        return len(victims)

    def close(self) -> None:
        self._closed = True
        self.drop()
        self._listener.close()
