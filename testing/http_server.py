"""The local HTTP server the test doubles are built on.

``LocalHttpServer`` serves on a free port of 127.0.0.1 in a daemon thread and gives
its subclasses what every wire-format double needs: the lifecycle (``start()``,
``stop()``, a context manager, ``url``), a record of every request, a queue of
injected faults per key (a status instead of the answer, a hang, a slow body) and
one way to send an answer. A subclass answers requests in ``handle_get`` /
``handle_post``; a method it does not answer gets 501 as from the standard library.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

Recorded = TypeVar("Recorded")


@dataclass
class Fault:
    """What to do instead of (or before) answering the next ``times`` requests.

    ``status`` set: answer it with ``body``, ``headers`` and ``content_type``.
    ``hang_seconds``: wait that long first (``stop()`` ends the wait).
    ``drip_interval``: send the body one byte per interval (a server that applies it).
    ``times`` None: every later request.
    """

    status: int | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    hang_seconds: float = 0.0
    drip_interval: float = 0.0
    times: int | None = 1


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalHttpServer[Any]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Httpd

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self.server.owner.handle_get(self)

    def do_POST(self) -> None:
        self.server.owner.handle_post(self)


class LocalHttpServer(Generic[Recorded]):
    """An HTTP/1.1 server on ``127.0.0.1:<free port>`` for one test (or a module).

    Use as a context manager (or ``start()``/``stop()``). Subclasses override
    ``handle_get``/``handle_post``, call ``_record`` for each request, and take
    faults with ``_take_fault``; ``_lock`` guards their own state too.
    """

    def __init__(self) -> None:
        """Prepare an empty server (not listening yet)."""
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._requests: list[Recorded] = []
        self._faults: dict[str | None, list[Fault]] = {}
        self._httpd: _Httpd | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        self._release.clear()
        self._httpd = _Httpd(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hanging handlers, stop serving and close the socket."""
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL to give the client under test."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ------------------------------------------------------------------ records and faults

    @property
    def requests(self) -> list[Recorded]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget injected faults and recorded requests."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    def _record(self, request: Recorded) -> Recorded:
        with self._lock:
            self._requests.append(request)
        return request

    def _add_fault(self, key: str | None, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(key, []).append(fault)

    def _take_fault(self, *keys: str | None) -> Fault | None:
        """The first queued fault under ``keys``, tried in order, counting one use."""
        with self._lock:
            for key in keys:
                queue = self._faults.get(key) or []
                if queue:
                    fault = queue[0]
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            queue.pop(0)
                    return fault
        return None

    def _hold(self, seconds: float) -> bool:
        """Wait ``seconds`` unless ``stop()`` comes first (then True)."""
        return self._release.wait(seconds)

    # ------------------------------------------------------------------ answering

    def handle_get(self, h: BaseHTTPRequestHandler) -> None:
        """Answer a GET; by default 501, as for a method the server has no handler for."""
        h.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({h.command!r})")

    def handle_post(self, h: BaseHTTPRequestHandler) -> None:
        """Answer a POST; by default 501, as for a method the server has no handler for."""
        h.send_error(HTTPStatus.NOT_IMPLEMENTED, f"Unsupported method ({h.command!r})")

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str | None,
        *,
        headers: dict[str, str] | None = None,
        drip: float = 0.0,
    ) -> None:
        """Send one answer (no ``Content-Type`` when ``content_type`` is None); with
        ``drip``, the headers at once and then the body one byte per ``drip`` seconds."""
        try:
            h.send_response(status)
            if content_type is not None:
                h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.end_headers()
            if drip:
                for i in range(len(body)):
                    h.wfile.write(body[i : i + 1])
                    h.wfile.flush()
                    if self._hold(drip):
                        break
            else:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test); nothing to answer to.
            h.close_connection = True
