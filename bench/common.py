"""What every benchmark shares: its throwaway PostgreSQL database, the machine line, and the
one table ``make bench`` prints.

A benchmark prints its rows for the table as ``bench-row: {json}`` lines (``emit``), so
``bench/all.py`` can run each benchmark in its own process (each sets Django up its own way)
and print every row in one table (``print_table``). A row is a figure beside the floor
measured in the same run: ``Row(benchmark, figure, unit, floor, goal, higher_is_better)``.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

PREFIX = "bench-row: "


@dataclass
class Row:
    benchmark: str
    figure: float
    unit: str
    floor: float | None
    goal: float | None  # the figure must be below it (above it with higher_is_better)
    higher_is_better: bool = False
    note: str = ""  # why a goal is missed, or what the figure leaves out

    @property
    def ratio(self) -> float | None:
        """How far from the floor: figure/floor for times, floor/figure for rates (>= 1)."""
        if not self.floor or not self.figure:
            return None
        return self.floor / self.figure if self.higher_is_better else self.figure / self.floor

    @property
    def meets_goal(self) -> bool | None:
        if self.goal is None:
            return None
        return self.figure >= self.goal if self.higher_is_better else self.figure < self.goal


def emit(row: Row) -> None:
    print(PREFIX + json.dumps(asdict(row)), flush=True)


def parse_rows(text: str) -> list[Row]:
    return [
        Row(**json.loads(line[len(PREFIX) :]))
        for line in text.splitlines()
        if line.startswith(PREFIX)
    ]


def pct(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        ram = "unknown RAM"
    return f"{os.cpu_count()} CPUs ({cpu_model()}), {ram}"


@contextmanager
def throwaway_database(name: str) -> Iterator[str | None]:
    """Point DATABASE_URL at a new PostgreSQL database `<BENCH_DB_PREFIX>_<name>_<pid>`
    beside the one it names, and drop it afterwards; yields its URL. Without a PostgreSQL
    DATABASE_URL, yields None and changes nothing (SQLite in VAR_DIR)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield None
        return
    import psycopg

    db = f"{os.environ.get('BENCH_DB_PREFIX', 'bench')}_{name}_{os.getpid()}"
    own = url.rsplit("/", 1)[0] + "/" + db
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f"CREATE DATABASE {db}")
    os.environ["DATABASE_URL"] = own
    try:
        yield own
    finally:
        os.environ["DATABASE_URL"] = url
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 (Django may not be set up)
            pass
        admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        admin.close()


def forget_redis(prefix: str, url: str | None = None) -> None:
    """Delete a run's keys (cache, channel layer, broker: all under its ``REDIS_KEY_PREFIX``,
    of fixed length so that it is no other run's prefix) from the Redis at `url` (default
    REDIS_URL)."""
    url = url or os.environ.get("REDIS_URL")
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return f"{text} {unit}".strip()


def print_table(rows: list[Row], *, title: str = "") -> None:
    """One table: benchmark, figure, floor, ratio, goal, status."""
    head = ("benchmark", "figure", "floor", "ratio", "goal", "status")
    lines = []
    for r in rows:
        sign = "≥ " if r.higher_is_better else "< "
        goal = None if r.goal is None else sign + _number(r.goal, r.unit)
        ok = r.meets_goal
        status = "no goal" if ok is None else "meets goal" if ok else "misses goal"
        if r.note:
            status += f": {r.note}"
        ratio = r.ratio
        lines.append(
            (
                r.benchmark,
                _number(r.figure, r.unit),
                _number(r.floor, r.unit),
                "-" if ratio is None else f"{ratio:.1f}×",
                goal or "-",
                status,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=True)]
    if title:
        print(title)
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for line in lines:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |")
