"""Live prices: from a refresh round's store to the message in ``/ws/prices/`` sockets, with
hundreds of sockets open, beside the same sockets' own WebSocket ping round trip.

One command:  DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python bench/prices.py
(or `make bench-prices`). Creates a throwaway database `<BENCH_DB_PREFIX>_prices_<pid>`
beside the one DATABASE_URL names and a Redis key prefix of its own, starts uvicorn as
``make run`` does with ``--workers`` processes (2), opens ``--sockets`` (500) WebSockets to
``/ws/prices/`` from this process (asyncio) and waits for each one's snapshot. Then, for
``--rounds`` (20) rounds: the oracle's store (``oracle.services.price_publish``, as a
refresh round calls it: the price point, the candles and the cache in one transaction, the
broadcast on commit) of a new ETH-USD price, timed from just before the store to the moment
each socket receives the price; and, as the floor, a WebSocket ping sent on every socket
at once before each round, timed to each pong (what the server, the network stack and this
client cost for one frame each way on every socket, with no application work). Prints
p50/p95/max of both, then the rows for ``make bench``. The channel layer must be Redis
(REDIS_URL): the in-memory one cannot carry a store in this process to the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    Row,
    emit,
    forget_redis,
    load,
    machine,
    pct,
    print_table,
    throwaway_database,
)
from bench.server import _free_port, _start_server, _stop  # noqa: E402

# Issue #15: from a refresh round's store to the message in a socket, p95 under 200 ms with
# 500 connected sockets.
GOAL_P95_MS = 200.0
PAIR = "ETH-USD"
BASE_PRICE = Decimal("2000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between rounds")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("bench/prices.py needs PostgreSQL: set DATABASE_URL=postgres://...")
    if not os.environ.get("REDIS_URL"):
        sys.exit("bench/prices.py needs Redis for the channel layer: set REDIS_URL=redis://...")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    var_dir = tempfile.mkdtemp(prefix="bench-prices-")
    os.environ["VAR_DIR"] = var_dir
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DEBUG"] = "false"
    prefix = f"bench-prices-{secrets.token_hex(4)}"
    os.environ["REDIS_KEY_PREFIX"] = prefix
    import django

    try:
        with throwaway_database("prices"):
            django.setup()
            stores, pings, received = run(args)
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
        forget_redis(prefix)
    expected = args.sockets * args.rounds
    note = "" if received == expected else f"{expected - received} of {expected} never arrived"
    rows = [
        Row(
            f"live price store → {args.sockets} sockets, p50",
            pct(stores, 0.5),
            "ms",
            pct(pings, 0.5),
            None,
            note=note,
        ),
        Row(
            f"live price store → {args.sockets} sockets, p95",
            pct(stores, 0.95),
            "ms",
            pct(pings, 0.95),
            GOAL_P95_MS,
            note=note,
        ),
    ]
    print_table(rows, title=f"\nlive prices, {args.sockets} sockets, {args.rounds} rounds")
    for row in rows:
        emit(row)


def run(args) -> tuple[list[float], list[float], int]:
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    connections.close_all()
    port = _free_port()
    print(f"machine: {machine()}, load average {load()} at start")
    server = _start_server(port, args.workers, dict(os.environ))
    try:
        return asyncio.run(_measure(port, args))
    finally:
        _stop(server)


def _store(price: Decimal) -> float:
    """Store `price` for PAIR as a refresh round does; the perf_counter just before."""
    from django.db import close_old_connections
    from django.utils import timezone

    from oracle import selectors
    from oracle.aggregation import fixed_price
    from oracle.services import price_publish

    close_old_connections()
    started = time.perf_counter()
    price_publish(
        aggregate=fixed_price(pair=PAIR, price=price, now=timezone.now()),
        previous=selectors.cached_aggregate(PAIR),
    )
    return started


async def _measure(port: int, args) -> tuple[list[float], list[float], int]:
    import json

    from websockets.asyncio.client import ClientConnection, connect

    url = f"ws://127.0.0.1:{port}/ws/prices/"
    origin = f"http://127.0.0.1:{port}"
    # arrivals[price] = perf_counter of each socket's receipt of that round's price
    arrivals: dict[Decimal, list[float]] = {}

    async def reader(ws: ClientConnection) -> None:
        async for message in ws:
            data = json.loads(message)
            price = data.get("price") or {}
            if data.get("type") == "price" and price.get("pair") == PAIR:
                value = Decimal(price["price"])
                if value in arrivals:
                    arrivals[value].append(time.perf_counter())

    async def opened() -> ClientConnection:
        # The server's own keep-alive pings are left to uvicorn; the client sends none.
        ws = await connect(url, origin=origin, open_timeout=60, ping_interval=None)  # type: ignore[arg-type]
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert snapshot["type"] == "snapshot", snapshot
        return ws

    sockets: list[ClientConnection] = []
    started = time.perf_counter()
    for chunk in range(0, args.sockets, 50):  # 50 handshakes at a time
        sockets += await asyncio.gather(
            *(opened() for _ in range(chunk, min(chunk + 50, args.sockets)))
        )
    print(
        f"  {len(sockets)} sockets open with their snapshots in "
        f"{time.perf_counter() - started:.1f} s; load average {load()}",
        flush=True,
    )
    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    pings: list[float] = []
    stores: list[float] = []
    for n in range(args.rounds):
        pings += await asyncio.gather(*(_ping(ws) for ws in sockets))
        await asyncio.sleep(args.gap)
        price = BASE_PRICE + n + 1
        arrivals[price] = []
        t0 = await asyncio.to_thread(_store, price)
        deadline = time.perf_counter() + 10
        while len(arrivals[price]) < len(sockets) and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        stores += [(t - t0) * 1000 for t in arrivals[price]]
        await asyncio.sleep(args.gap)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    print(
        f"  store → socket  p50 {pct(stores, 0.5):7.1f} ms   p95 {pct(stores, 0.95):7.1f} ms"
        f"   max {max(stores, default=0):7.1f} ms   ({len(stores)} messages)\n"
        f"  ping → pong     p50 {pct(pings, 0.5):7.1f} ms   p95 {pct(pings, 0.95):7.1f} ms"
        f"   max {max(pings, default=0):7.1f} ms   load average {load()}",
        flush=True,
    )
    return stores, pings, len(stores)


async def _ping(ws) -> float:
    """One WebSocket ping's round trip to its pong, in ms (the floor: a frame each way)."""
    started = time.perf_counter()
    pong = await ws.ping()
    await pong
    return (time.perf_counter() - started) * 1000


if __name__ == "__main__":
    main()
