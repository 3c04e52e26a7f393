"""The swaps↔chains seam: notices for the state a pass ends in, next_action read once per
block, the relayer's chain failures retried as ``ChainUnavailable``."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chains import relayer
from chains import selectors as chain_selectors
from chains.interface import ChainUnavailable
from chains.tests.support import RpcProxy, network_config
from swaps import onchain
from swaps.models import Notification
from swaps.tests.factories import make_swap
from swaps.tests.flow import redeem, scan_all

pytestmark = pytest.mark.django_db(transaction=True)


def _send_tx(chain, key, tx) -> None:
    chain.send(key, tx.to, tx.data, tx.value)


def test_a_pass_crossing_two_steps_notifies_only_the_state_it_ends_in(swap_env):
    # given: both parties locked before the watcher saw either lock
    a, b = swap_env
    swap, _, (maker, maker_key), (taker, taker_key) = make_swap()
    _send_tx(b, taker_key, onchain.approve_tx(swap, onchain.TAKER))
    _send_tx(b, taker_key, onchain.lock_tx(swap, onchain.TAKER))
    _send_tx(a, maker_key, onchain.lock_tx(swap, onchain.MAKER))
    # when: one watcher pass per chain sees both locks
    scan_all(swap_env)
    swap.refresh_from_db()
    # then: the swap walked created → taker_locked → maker_locked, every step recorded...
    assert swap.state == "maker_locked"
    assert [e.to_state for e in swap.events.order_by("pk")] == [
        "created",
        "taker_locked",
        "maker_locked",
    ]
    # ...and only the state it ended in was announced: no "lock your side now" to a maker
    # whose lock is already on chain; the taker is told to redeem
    assert not Notification.objects.filter(user=maker, kind="lock").exists()
    assert Notification.objects.filter(user=taker, kind="redeem").count() == 1


def test_next_action_reads_the_chain_once_per_block(swap_env, settings):
    # given: local-b (the taker's chain) reached through a counting proxy
    a, b = swap_env
    proxy = RpcProxy(b.node.rpc_url)
    settings.CHAIN_NETWORKS = [
        settings.CHAIN_NETWORKS[0],
        network_config("local-b", 31338, proxy.url, confirmations=1),
    ]
    swap, _, _, (taker, _) = make_swap()
    api = APIClient()
    api.force_authenticate(taker)

    def step_and_requests() -> tuple[str, int]:
        before = proxy.requests
        step = api.get(f"/api/v1/swaps/{swap.pk}/").json()["next_action"]
        return step["action"], proxy.requests - before

    # when: the taker reads their swap twice at the same block
    first = step_and_requests()
    again = step_and_requests()
    # then: the first read asks the chain for the block, the lock and the allowance; the
    # second only for the latest block, which has not changed
    assert first[0] == again[0] == "approve"
    assert first[1] >= 3
    assert again[1] == 1
    # when: a new block is mined, the step is worked out again
    b.mine(1)
    assert step_and_requests()[1] >= 3


def test_the_relayer_reports_an_unreachable_chain_as_chain_unavailable(swap_env, settings):
    # given: local-a's RPC is down
    a, _ = swap_env
    proxy = RpcProxy(a.node.rpc_url)
    proxy.down = True
    settings.CHAIN_NETWORKS = [network_config("local-a", 31337, proxy.url, confirmations=1)]
    network = chain_selectors.network_get("local-a")
    # when / then: the task's autoretry catches exactly this type
    with pytest.raises(ChainUnavailable):
        relayer.relayer_refund(network=network, lock_id="0x" + "11" * 32)
    with pytest.raises(ChainUnavailable):
        relayer.relayer_redeem(network=network, lock_id="0x" + "11" * 32, preimage="0x" + "22" * 32)


def test_only_swap_transition_writes_a_swap_state():
    import ast
    from pathlib import Path

    from testing.code_scan import state_writes

    # given: every Python file of the app except tests and migrations
    root = Path(__file__).resolve().parents[1]
    writes = []
    for path in root.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for func, _, what in state_writes(ast.parse(path.read_text()), "swap_transition"):
            writes.append((str(path.relative_to(root)), func, what))
    # then: the writer's conditional update and its assignment, nothing else
    assert sorted(writes) == [
        ("services.py", "swap_transition", "assign"),
        ("services.py", "swap_transition", "update"),
    ]


def test_a_mined_redeem_is_never_offered_again_before_it_confirms(swap_env):
    # given: both locks confirmed; the taker is offered the redeem
    a, b = swap_env
    swap, secret, (maker, maker_key), (taker, taker_key) = make_swap()
    _send_tx(b, taker_key, onchain.approve_tx(swap, onchain.TAKER))
    _send_tx(b, taker_key, onchain.lock_tx(swap, onchain.TAKER))
    _send_tx(a, maker_key, onchain.lock_tx(swap, onchain.MAKER))
    scan_all(swap_env)
    api = APIClient()
    api.force_authenticate(taker)
    step = api.get(f"/api/v1/swaps/{swap.pk}/").json()["next_action"]
    assert step["action"] == "redeem"
    # when: the redeem is mined and the watcher has not confirmed it yet
    redeem(a, taker_key, step, secret)
    # then
    step = api.get(f"/api/v1/swaps/{swap.pk}/").json()["next_action"]
    assert (step["action"], step["reason"]) == ("wait", "redeem_confirming")
