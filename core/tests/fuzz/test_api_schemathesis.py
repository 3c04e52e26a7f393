"""Schemathesis against the live app: every operation of /api/schema/, a signed-in user,
real chains, a fixed seed and a bounded number of examples. Zero server errors and zero
responses outside the schema (status codes, bodies, content types, headers).

Run alone with ``make api-fuzz``; part of ``make test``. Reports go to ``var/schemathesis/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.support import clear_run_cache

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[3]
SEED = 20261201
# Per operation and phase; with about 30 operations a run takes about two minutes here.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_MAX_EXAMPLES", "8"))
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
# Failures owned by another app and reported to it, accepted until fixed; anything else
# fails the run. Regenerate with API_FUZZ_BASELINE_UPDATE=1 (then read the diff!).
BASELINE = Path(__file__).with_name("baseline.json")
# Operations that end the signed-in user's account or tokens would stop the rest of the run.
EXCLUDED_OPERATIONS = ["me_delete", "auth_logout"]


@pytest.fixture(scope="module")
def chains_ab() -> Iterator[tuple]:
    from chains.tests.support import start_chain

    a, b = start_chain(31337), start_chain(31338)
    with a.node, b.node:
        yield a, b


@pytest.fixture
def live_api(chains_ab, settings, transactional_db) -> Iterator[str]:
    """The app served by uvicorn with both chains, contracts, prices, a listing and no limits."""
    from chains import selectors as chain_selectors
    from chains.services import network_bootstrap
    from chains.tests.support import network_config
    from core.tests.browser.server import LiveAsgiServer
    from marketplace.tests.support import publish_prices

    a, b = chains_ab
    server = LiveAsgiServer().start()
    settings.SITE_URL = server.url
    settings.CHAIN_NETWORKS = [
        network_config("local-a", 31337, a.node.rpc_url, confirmations=1),
        network_config("local-b", 31338, b.node.rpc_url, confirmations=1),
    ]
    unlimited = "100000/minute"
    settings.API_THROTTLE_RATES = {k: unlimited for k in settings.API_THROTTLE_RATES}
    clear_run_cache()
    publish_prices(settings, {"TEST-USD": "1.00", "ETH-USD": "2.50"})
    for network in chain_selectors.network_list():
        network_bootstrap(network=network, test_token=True)
    try:
        yield server.url
    finally:
        server.stop()
        clear_run_cache()


def _signed_in_user() -> str:
    """A user with a wallet and a listing of their own; returns a bearer access token."""
    from accounts import services
    from accounts.tests.factories import WalletFactory
    from marketplace.tests.factories import ListingFactory

    wallet = WalletFactory()
    ListingFactory(maker=wallet.user)
    ListingFactory()
    return services.jwt_pair_issue(user=wallet.user)["access"]


def test_the_api_answers_every_generated_request_within_its_schema(live_api):
    # given
    access = _signed_in_user()
    report = ROOT / "var" / "schemathesis"
    report.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{live_api}/api/schema/",
        "--url",
        live_api,  # the schema's paths start with /api/v1
        "--header",
        f"Authorization: Bearer {access}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",  # every run starts from the seed alone, and writes nothing into the tree
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report),
        *(arg for op in EXCLUDED_OPERATIONS for arg in ("--exclude-operation-id", op)),
        "--baseline",
        str(BASELINE),
        *(["--baseline-update"] if os.environ.get("API_FUZZ_BASELINE_UPDATE") else []),
    ]
    # when
    done = subprocess.run(  # in var/: schemathesis keeps a cache dir where it runs
        command, cwd=report, capture_output=True, text=True, timeout=840, check=False
    )
    # then
    output = done.stdout + done.stderr
    (report / "output.txt").write_text(output)
    assert done.returncode == 0, output[-20000:]
