"""`make bench`: every benchmark, one after the other, then one table of their figures.

One command:  DATABASE_URL=postgres://... .venv/bin/python bench/all.py [--quick]

Each benchmark runs in its own process (each sets Django up its own way and creates and drops
its own database) with its output shown as it goes; the rows each prints (``bench-row:``
lines, bench/common.py) are gathered into one table, headed by the machine and the load
average before and after. A benchmark that fails is listed under the table. ``--quick``
passes smaller sizes, for trying the whole chain while developing (not figures to quote).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Row, load, machine, parse_rows, print_table  # noqa: E402

# (name, script, arguments, arguments with --quick)
BENCHMARKS: list[tuple[str, str, list[str], list[str]]] = [
    ("listings", "bench/listings.py", [], ["--listings", "20000", "--requests", "40"]),
    ("server", "bench/server.py", [], ["--listings", "20000", "--seconds", "5"]),
    ("watcher", "bench/watcher.py", [], ["--shapes", "200x1,1000x10"]),
    ("prices", "bench/prices.py", [], ["--sockets", "100", "--rounds", "5"]),
    ("swaps", "bench/swaps.py", [], ["--quick"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--only", default="", help="comma-separated: listings,server,watcher,swaps")
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name}

    started_load = load()
    started = time.monotonic()
    rows: list[Row] = []
    failed = []
    for name, script, full, quick in BENCHMARKS:
        if only and name not in only:
            continue
        argv = [sys.executable, script, *(quick if args.quick else full)]
        print(f"\n=== {name}: {' '.join(argv[1:])}", flush=True)
        proc = subprocess.Popen(  # noqa: S603 (fixed argv)
            argv, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=dict(os.environ)
        )
        assert proc.stdout is not None
        out = []
        for line in proc.stdout:
            out.append(line)
            sys.stdout.write(line)
        if proc.wait() != 0:
            failed.append(f"{name} (exit {proc.returncode})")
        rows += parse_rows("".join(out))
    minutes = (time.monotonic() - started) / 60
    print(
        f"\n## make bench: {machine()}; load average {started_load} before, {load()} after "
        f"({minutes:.0f} min){' --quick' if args.quick else ''}\n"
    )
    print_table(rows)
    if failed:
        print("\nfailed: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
