"""The ASGI handler runs the middleware chain and the view as one sync call (core.handlers)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync, iscoroutinefunction

pytestmark = pytest.mark.django_db(transaction=True)


def _app():
    # Imported in the test, not at collection: the application's WhiteNoise lists the static
    # files when it is built, and the suite collects them in its first fixture.
    from config.asgi import django_asgi_app

    return django_asgi_app


def _get(path: str) -> list[dict]:
    """One GET through the ASGI protocol, as the server sends it; the messages sent back."""
    return asyncio.run(_aget(path))


async def _aget(path: str) -> list[dict]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 40000),
        "server": ("localhost", 80),
    }
    sent: list[dict] = []
    body = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict:
        if body:
            return body.pop()
        await asyncio.sleep(60)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await _app()(scope, receive, send)
    return sent


def test_the_middleware_chain_is_one_sync_callable():
    assert not iscoroutinefunction(_app()._middleware_chain)


def test_a_request_enters_a_thread_once_and_never_goes_back_to_the_event_loop(monkeypatch):
    # given: every crossing counted (Django's own handler made five a request: three of them
    # the chain's sync part, the async middleware inside it and the view)
    crossings = {"to a thread": 0, "to the event loop": 0}
    to_thread, to_loop = SyncToAsync.__call__, AsyncToSync.__call__

    async def counted_to_thread(self, *args, **kwargs):
        crossings["to a thread"] += 1
        return await to_thread(self, *args, **kwargs)

    def counted_to_loop(self, *args, **kwargs):
        crossings["to the event loop"] += 1
        return to_loop(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted_to_thread)
    monkeypatch.setattr(AsyncToSync, "__call__", counted_to_loop)
    # when
    start, *_ = _get("/health/live")
    # then: the request_started signal, the chain with its view, the response's close
    assert start["status"] == 200
    assert crossings == {"to a thread": 3, "to the event loop": 0}
    # and: the chain's outermost middleware still ran (its request id header)
    assert any(name.lower() == b"x-request-id" for name, _ in start["headers"])


def test_requests_one_after_another_start_no_thread(monkeypatch):
    # given: a first request, which may start the thread the next ones reuse
    assert _get("/health/live")[0]["status"] == 200
    started = []
    start = threading.Thread.start

    def counted(self):
        started.append(self.name)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counted)

    # when: five more (Django's own handler started two threads a request: one to run it,
    # one to join that one)
    async def five() -> list[int]:
        statuses = []
        for _ in range(5):
            await asyncio.sleep(0.05)  # the last one's thread is back among the idle by now
            statuses.append((await _aget("/health/live"))[0]["status"])
        return statuses

    statuses = asyncio.run(five())
    # then
    assert statuses == [200] * 5
    assert started == []


def test_a_burst_leaves_at_most_the_idle_threads_behind():
    from core.handlers import IDLE_THREADS

    # given: the request threads alive now
    def request_threads() -> int:
        return sum(t.name.startswith("request") for t in threading.enumerate())

    before = request_threads()

    # when: 4 x IDLE_THREADS requests at once, each on a thread of its own while it runs
    async def burst() -> list[int]:
        answers = await asyncio.gather(*(_aget("/health/live") for _ in range(4 * IDLE_THREADS)))
        return [sent[0]["status"] for sent in answers]

    statuses = asyncio.run(burst())
    # then: every one answered, and once the extra threads have ended, no more than the idle
    # ones remain
    assert statuses == [200] * (4 * IDLE_THREADS)
    for _ in range(100):
        if request_threads() <= max(before, IDLE_THREADS):
            break
        threading.Event().wait(0.05)
    assert request_threads() <= max(before, IDLE_THREADS)
