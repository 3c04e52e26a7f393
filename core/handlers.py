"""The ASGI handler of HTTP requests: Django's, with the middleware chain run as one sync
call, in threads reused from request to request.

Django's own handler builds an async middleware chain around an async view caller. Ours
mixes middleware that can run async with middleware that cannot (ours touch the database
and sessions; WhiteNoise is sync only), and the views are sync, so a request crossed from
the event loop to a thread eight times and back once. Here the whole chain and the view run
in the request's thread, entered once, with the same middleware in the same order (an async
view would still work: Django adapts it inside the sync chain; there is none).

Django also gives every request a thread of its own by starting one (a new single-thread
executor per request) and another to join it afterwards: two thread starts and a join a
request, most of what a small request cost. Here each request still has a thread to itself
for as long as it runs, but taken from the threads earlier requests finished with; at most
``IDLE_THREADS`` wait idle per process (a burst's extra ones end). A thread is handed out
again only once the work queued on it has run (a view may outlive a client that left), so
two requests never share one at a time. What a thread keeps between requests is what any
threaded server's threads keep: its database connection, closed or returned to the pool by
Django at the end of each request as the settings say (``DB_CONN_MAX_AGE``, ``DB_POOL_MAX``).
"""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler

IDLE_THREADS = 8


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._idle: collections.deque[ThreadPoolExecutor] = collections.deque()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":  # as Django's
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        try:
            executor = self._idle.pop()
        except IndexError:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            # Back among the idle once everything queued on it has run.
            executor.submit(_nothing).add_done_callback(lambda _: self._release(executor))

    def _release(self, executor: ThreadPoolExecutor) -> None:
        if len(self._idle) < IDLE_THREADS:
            self._idle.append(executor)
        else:
            executor.shutdown(wait=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def _nothing() -> None:
    pass


def get_asgi_application() -> SyncChainASGIHandler:
    """What ``django.core.asgi.get_asgi_application`` does, with this handler."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
