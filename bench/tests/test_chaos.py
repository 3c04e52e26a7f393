"""`make chaos`, short: four swaps through the API of a `make prod` while processes are
SIGKILLed, PostgreSQL and Redis restart and a chain's RPC is cut, then checked from the
chains (bench/chaos.py). The run brings its own PostgreSQL cluster, Redis server and
chains, so it never restarts the machine's; it runs once, in the PostgreSQL half of the
suite, as production runs on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import postgres_bin
from ops.tests.support import require_binary

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"^chaos: (\d+) swaps, (\d+) kills, (\d+) violations$")


def test_a_short_chaos_run_loses_nothing_and_says_so_on_its_last_line(postgres_url):
    # given: the programs the run starts
    for name, package in (
        ("nginx", "nginx"),
        ("supervisord", "supervisor"),
        ("redis-server", "redis-server"),
    ):
        require_binary(name, package)
    if postgres_bin() is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) not found")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    # when: four swaps (two rounds of a listing three takers race for) with a kill every
    # ~8 s; 1 s after the first swap local-b's RPC is cut for 15 s, and PostgreSQL and Redis
    # restart 4 and 8 s after it, inside the cut: no swap can end while the platform cannot
    # reach local-b, so every fault meets swaps in flight however fast the machine
    argv = [
        *(sys.executable, "bench/chaos.py", "--swaps", "4", "--parallel", "2", "--workers", "3"),
        *("--kill-every", "8", "--cut-seconds", "15", "--settle", "900"),
        *("--cut-at", "1", "--postgres-at", "4", "--redis-at", "8"),
    ]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1400)
    out = done.stdout
    # then: every check held, every fault happened mid-run, and the monkey killed
    assert done.returncode == 0, out[-6000:] + done.stderr[-3000:]
    found = LAST_LINE.match(out.strip().splitlines()[-1])
    assert found, out[-3000:]
    swaps, kills, violations = map(int, found.groups())
    assert (swaps, violations) == (4, 0), out[-3000:]
    assert kills >= 2, out[-3000:]
    for fault in ("PostgreSQL restart", "Redis restart", "local-b RPC cut"):
        assert re.search(rf"^fault: {fault}.*: at \+\d+ s, [1-4] swaps in flight$", out, re.M), out
    # and: the third taker of each round was refused (the listing had room for two)
    assert re.search(r"^takes refused \(the listing was full\): 2 ", out, re.M), out[-3000:]
