"""The load scenario runs: bench/load/locustfile.py, headless for a few seconds with a
handful of users, against the app served by uvicorn (HTTP and WebSockets) with two anvil
chains, contracts, oracle prices, a seeded offer book and funded wallets. Every request
must succeed, and each kind of user must have done its part: browsed, signed in with
SIWE, taken a listing, and held both sockets open.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load.keys import FUNDED_ENV, KEY_SEED_ENV
from testing.support import clear_run_cache

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[3]
USERS = 10  # by weight: 6 browsers, 3 traders, 1 socket holder
SECONDS = 15


@pytest.fixture
def live_app(settings, transactional_db) -> Iterator[str]:
    """uvicorn with both chains, contracts, prices, 60 listings and USERS funded load keys."""
    from bench.load.seed import fund, seed
    from chains import selectors as chain_selectors
    from chains.services import network_bootstrap
    from chains.tests.support import network_config, start_chain
    from core.tests.browser.server import LiveAsgiServer
    from marketplace.tests.support import publish_prices

    a, b = start_chain(31337), start_chain(31338)
    with a.node, b.node:
        server = LiveAsgiServer().start()
        try:
            settings.SITE_URL = server.url
            settings.CHAIN_NETWORKS = [
                network_config("local-a", 31337, a.node.rpc_url, confirmations=1),
                network_config("local-b", 31338, b.node.rpc_url, confirmations=1),
            ]
            unlimited = "100000/minute"
            settings.API_THROTTLE_RATES = {k: unlimited for k in settings.API_THROTTLE_RATES}
            clear_run_cache()
            publish_prices(settings, {"TEST-USD": "1", "ETH-USD": "2000"})  # seed.USD's prices
            for network in chain_selectors.network_list():
                network_bootstrap(network=network, test_token=True)
            seed(listings=60, makers=5, rng=random.Random(1))
            fund(seed="smoke", count=USERS)
            yield server.url
        finally:
            server.stop()
            clear_run_cache()


def _stats(prefix: Path) -> dict[str, tuple[int, int]]:
    with Path(f"{prefix}_stats.csv").open() as f:
        return {
            row["Name"]: (int(row["Request Count"]), int(row["Failure Count"]))
            for row in csv.DictReader(f)
        }


def test_the_load_scenario_runs_every_kind_of_user_without_a_failure(live_app, tmp_path):
    # given: the stack above; when: a short headless run
    prefix = tmp_path / "locust"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "bench" / "load" / "locustfile.py"),
            "--host",
            live_app,
            "--headless",
            "--users",
            str(USERS),
            "--spawn-rate",
            str(USERS),
            "--run-time",
            f"{SECONDS}s",
            "--stop-timeout",
            "5",
            "--csv",
            str(prefix),
            "--only-summary",
        ],
        cwd=ROOT,
        env={**os.environ, KEY_SEED_ENV: "smoke", FUNDED_ENV: str(USERS)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # then: no failure at all (locust exits 1 on any), and each user kind did its part
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    stats = _stats(prefix)
    for name in (
        "/api/v1/auth/siwe/verify",
        "POST /api/v1/swaps/",
        "/api/v1/listings/?pair=[pair]",
        "/ws/prices/ [connect]",
        "/ws/swaps/[id]/ [connect]",
        "/ws/swaps/[id]/ [message]",
    ):
        assert stats.get(name, (0, 0))[0] >= 1, (name, stats)
    assert stats["Aggregated"][1] == 0, output[-6000:]
