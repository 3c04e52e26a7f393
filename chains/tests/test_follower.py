"""The head follower on a real anvil chain: it scans as soon as a block is confirmed, under the
watcher's lease and guarantees, and outlives RPC outages."""

import dataclasses
import threading
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from chains import events, follower, selectors, services, tasks, watcher
from chains.interface import ChainUnavailable
from chains.models import ChainCursor, ChainEvent
from chains.tests.support import RpcProxy, network_config, secret_pair, start_chain, user

pytestmark = pytest.mark.django_db(transaction=True)
POLL = 0.05


@pytest.fixture
def chain():
    chain = start_chain(31337)
    yield chain
    chain.node.stop()


@pytest.fixture
def proxy(chain):
    proxy = RpcProxy(chain.node.rpc_url)
    yield proxy
    proxy.close()


@pytest.fixture
def network(chain, proxy, monkeypatch):
    """local-a reached through the proxy, with the lock table as the only subscriber."""
    monkeypatch.setattr(events, "_registered", {})
    config = network_config("local-a", 31337, proxy.url, confirmations=2)
    with override_settings(
        CHAIN_NETWORKS=[config], CHAIN_EVENT_HOOKS=[], CHAIN_FOLLOW_POLL_SECONDS=POLL
    ):
        network = selectors.network_get("local-a")
        services.contract_deploy(network=network, contract="HTLC")
        yield network


@pytest.fixture
def following(network):
    """The follower running over `network` in its thread; stopped and joined afterwards."""
    stop = threading.Event()
    (running,) = follower.follow([network], stop)
    yield running
    stop.set()
    running.thread.join(timeout=30)
    assert not running.thread.is_alive()


def _lock(chain) -> str:
    _, hashlock = secret_pair()
    lock_id, _ = chain.lock_native(
        user(1),
        selectors.htlc_deployment_get("local-a").address,
        recipient=user(2).address,
        hashlock=hashlock,
        timelock=chain.now() + 3600,
        amount=10**15,
    )
    return lock_id


def _stored() -> list[str]:
    return list(ChainEvent.objects.order_by("block_number").values_list("lock_id", flat=True))


def _wait_stored(count: int, timeout: float = 10.0) -> float:
    """Seconds until `count` events are stored; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if len(_stored()) >= count:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{len(_stored())} events stored after {timeout} s, expected {count}")


def test_a_lock_is_stored_as_soon_as_its_block_is_confirmed_and_not_before(chain, following):
    # given: a lock with one confirmation (the network needs two)
    lock_id = _lock(chain)
    time.sleep(20 * POLL)
    # then: the follower has read the head and stored nothing
    assert following.last_head is not None
    assert _stored() == []
    # when: the next block confirms it (nothing else scans: no beat, no worker)
    chain.mine()
    took = _wait_stored(1)
    # then: stored once, within a few polls
    time.sleep(10 * POLL)
    assert _stored() == [lock_id]
    assert took < 2.0


def test_the_follower_waits_out_another_scanners_lease_then_scans(chain, network, following):
    # given: another scanner (beat's pass) holds the network's lease
    assert watcher._lease_take("local-a", "other")
    lock_id = _lock(chain)
    chain.mine()
    time.sleep(20 * POLL)
    assert _stored() == []
    # when: it lets go, without any new block
    watcher._lease_release("local-a", "other")
    # then: the follower, refused before, tries again on its own
    _wait_stored(1)
    assert _stored() == [lock_id]


def test_the_follower_outlives_an_rpc_outage_and_catches_up(chain, proxy, following):
    # given: the RPC provider is gone while a lock is confirmed
    proxy.refuse = True
    lock_id = _lock(chain)
    chain.mine()
    time.sleep(1.0)
    assert _stored() == []
    assert following.failures > 0
    # when: it comes back
    proxy.refuse = False
    # then: the thread is alive and stores the lock
    _wait_stored(1)
    assert _stored() == [lock_id]
    assert following.thread.is_alive()


def test_beat_leaves_a_followed_network_alone_until_its_follower_stops(network, monkeypatch):
    # given: scans recorded by the thread that runs them (beat's pass runs its tasks in this
    # thread here, as the tests' Celery is eager; the follower in a thread of its own)
    scans: list[str] = []
    real = watcher.network_catch_up

    def recorded(**kwargs):
        scans.append(threading.current_thread().name)
        return real(**kwargs)

    monkeypatch.setattr(watcher, "network_catch_up", recorded)
    cache.delete(follower._alive_key("local-a"))
    main = threading.current_thread().name
    # when: beat's pass with nobody following the network
    tasks.scan_all()
    # then: it scans
    assert scans == [main]
    # when: a follower polls it, then beat's pass comes
    scans.clear()
    stop = threading.Event()
    (running,) = follower.follow([network], stop)
    deadline = time.monotonic() + 10
    while not follower.following("local-a") and time.monotonic() < deadline:
        time.sleep(POLL)
    assert scans == ["follow-local-a"]  # its first poll scans
    tasks.scan_all()
    # then: the pass leaves it to the follower
    assert main not in scans
    # when: the follower stops and its last word runs out
    stop.set()
    running.thread.join(timeout=30)
    time.sleep(follower.alive_seconds(network) + 0.5)
    scans.clear()
    tasks.scan_all()
    # then: beat's passes scan it again
    assert scans == [main]


def test_a_cache_it_cannot_reach_leaves_the_scans_to_both(network):
    # given: a cache on a port where nothing listens (Redis down)
    gone = {"default": {"BACKEND": "core.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    one = follower.NetworkFollower(network=network, stop=threading.Event())
    with override_settings(CACHES=gone):
        # when: the follower says it follows, and beat's pass asks
        one.keep_alive()
        # then: neither raises, the follower will say it again, and beat's pass scans
        assert one.fresh_until == 0.0
        assert not follower.following("local-a")


def test_an_open_circuit_makes_the_follower_back_off(chain, network):
    # given: beat's passes opened the network's circuit; the RPC answers again
    ChainCursor.objects.update_or_create(
        network="local-a", defaults={"circuit_open_until": timezone.now() + timedelta(minutes=1)}
    )
    one = follower.NetworkFollower(network=network, stop=threading.Event())
    # when / then: its step fails (so its loop backs off) and stays pending
    with pytest.raises(ChainUnavailable, match="circuit open"):
        one.step()
    assert one.pending


def test_poll_interval_is_a_tenth_of_the_block_time_unless_configured(network):
    slow = dataclasses.replace(network, block_time=12)
    with override_settings(CHAIN_FOLLOW_POLL_SECONDS=0):
        assert follower.poll_seconds(slow) == 1.2
        assert follower.poll_seconds(network) == follower.MIN_POLL_SECONDS  # 1 s blocks
    with override_settings(CHAIN_FOLLOW_POLL_SECONDS=0.3):
        assert follower.poll_seconds(slow) == 0.3


def test_the_command_refuses_an_unknown_network(network):
    with pytest.raises(CommandError, match="unknown or disabled network"):
        call_command("follow_chains", "--network", "nowhere")
