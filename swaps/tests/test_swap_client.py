"""testing/swap_client.py against the real ASGI server: one swap over HTTP and WebSocket,
with real SIWE sign-ins and real wallets on the two anvils, balances exact to the wei.

The server (uvicorn, in a thread: it shares the test's settings and database) answers the
client; a thread stands in for the Celery worker and beat: it runs the real watcher over
both networks (and so the relayer, on commit) every 0.1 s.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from chains import selectors as chain_selectors
from chains import watcher
from chains.keys import account_for
from core.tests.browser.server import LiveAsgiServer
from swaps.models import Swap
from swaps.tests.flow import token
from testing.swap_client import Api, Party, anvil_key, asset_id, drive, post_listing, take

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(swap_env, settings) -> Iterator[LiveAsgiServer]:
    live = LiveAsgiServer().start()
    settings.SITE_URL = live.url
    yield live
    live.stop()


@pytest.fixture
def workers(swap_env) -> Iterator[None]:
    """The watcher over both networks every 0.1 s, in a thread, as beat and a worker would."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            while not stop.is_set():
                for network in chain_selectors.network_list():
                    watcher.network_scan(network=network)
                stop.wait(0.1)
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)
    assert not failures, failures


def test_swap_client_completes_a_swap_over_http_with_exact_balances(swap_env, server, workers):
    # given: two signed-in users; the maker lists ETH on local-a for TEST on local-b
    a, b = swap_env
    rpcs = {31337: a.node.rpc_url, 31338: b.node.rpc_url}
    maker = Party(Api(server.url), anvil_key(1), rpcs).sign_in()
    taker = Party(Api(server.url), anvil_key(2), rpcs).sign_in()
    listing = post_listing(
        maker,
        base=asset_id(maker.api, "local-a", "ETH"),
        quote=asset_id(maker.api, "local-b", "TEST"),
        amount="3",
        min_trade="0.5",
        max_trade="2",
        price="2.5",
    )
    test_b = token(b, "local-b")
    relayer_b = account_for(role="RELAYER", network="local-b").address

    def balances() -> dict[str, int]:
        return {
            "maker_eth_a": a.w3.eth.get_balance(maker.address),
            "taker_eth_a": a.w3.eth.get_balance(taker.address),
            "taker_eth_b": b.w3.eth.get_balance(taker.address),
            "maker_test_b": test_b.functions.balanceOf(maker.address).call(),
            "taker_test_b": test_b.functions.balanceOf(taker.address).call(),
            "relayer_test_b": test_b.functions.balanceOf(relayer_b).call(),
        }

    before = balances()

    # when: the taker takes 1.5 ETH and the driver plays both wallets to the end
    swap, secret = take(taker, listing["id"], "1.5")
    timeline = drive(maker, taker, swap["id"], secret, timeout=120, poll=0.1, follow_ws=True)

    # then: completed through every step, each seen over HTTP in order and pushed live
    assert timeline.final["state"] == "completed"
    happy = ["created", "taker_locked", "maker_locked", "secret_revealed", "completed"]
    assert [e["to_state"] for e in timeline.final["history"]] == happy
    seen = [s.state for s in timeline.seen]
    assert seen == [state for state in happy if state in seen]
    assert seen[0] == "created" and seen[-1] == "completed"
    pushed = [s.state for s in timeline.pushed]
    assert pushed[0] == "created" and pushed[-1] == "completed"
    assert set(timeline.sent) == {"taker:approve", "taker:lock", "maker:lock", "taker:redeem"}
    # and every coin moved by exactly the swap's amounts, each user paying only their own gas
    fee = {step: receipt.fee_wei for step, receipt in timeline.sent.items()}
    after = balances()
    assert after["taker_eth_a"] == before["taker_eth_a"] + 15 * 10**17 - fee["taker:redeem"]
    assert after["maker_eth_a"] == before["maker_eth_a"] - 15 * 10**17 - fee["maker:lock"]
    assert after["taker_eth_b"] == before["taker_eth_b"] - fee["taker:approve"] - fee["taker:lock"]
    assert after["maker_test_b"] == before["maker_test_b"] + 3_750_000
    assert after["taker_test_b"] == before["taker_test_b"] - 3_750_000
    assert after["relayer_test_b"] == before["relayer_test_b"]
    assert Swap.objects.get(pk=swap["id"]).preimage == secret


def test_swap_client_imports_no_django():
    # given / when: the client imported alone in a fresh interpreter
    check = (
        "import sys, testing.swap_client; "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, timeout=120)

    # then: it can run in a process of its own, apart from the server
    assert done.returncode == 0
