"""The watcher on real anvil chains: exactly once, whatever happens in between."""

import threading
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from chains import events, selectors, services, watcher
from chains.interface import ChainUnavailable
from chains.models import ChainCursor, ChainEvent, HtlcLock
from chains.tests.support import RpcProxy, network_config, secret_pair, start_chain, user

pytestmark = pytest.mark.django_db
SEEN: list = []
FAIL_ONCE: list = []


def recording_hook(event) -> None:
    SEEN.append(event)


def failing_hook(event) -> None:
    """Fails on its first call, like a worker killed in the middle of a pass."""
    if not FAIL_ONCE:
        FAIL_ONCE.append(event)
        raise RuntimeError("worker died")
    SEEN.append(event)


@pytest.fixture(autouse=True)
def _clear():
    SEEN.clear()
    FAIL_ONCE.clear()


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
    """local-a reached through the proxy, with the recording hook and no relayer."""
    monkeypatch.setattr(events, "_registered", {})  # the lock table and the recording hook only
    config = network_config("local-a", 31337, proxy.url, confirmations=2)
    with override_settings(
        CHAIN_NETWORKS=[config],
        CHAIN_EVENT_HOOKS=["chains.tests.test_watcher.recording_hook"],
        CHAIN_CIRCUIT_THRESHOLD=2,
    ):
        network = selectors.network_get("local-a")
        services.contract_deploy(network=network, contract="HTLC")
        yield network


def _htlc_address():
    return selectors.htlc_deployment_get("local-a").address


def _lock(chain, *, amount=10**15, timelock_in=3600, sender=1, recipient=2):
    _, hashlock = secret_pair()
    lock_id, receipt = chain.lock_native(
        user(sender),
        _htlc_address(),
        recipient=user(recipient).address,
        hashlock=hashlock,
        timelock=chain.now() + timelock_in,
        amount=amount,
    )
    return lock_id


def _scan_until_idle(network, limit=50):
    results = []
    for _ in range(limit):
        result = watcher.network_scan(network=network)
        results.append(result)
        if result.status != "scanned":
            return results
    raise AssertionError("watcher never went idle")


def _stored():
    return list(ChainEvent.objects.filter(orphaned=False).order_by("block_number", "log_index"))


def test_scan_stores_confirmed_events_once_with_their_evidence(chain, network):
    # given: two locks, each mined in its own block
    first = _lock(chain, amount=123)
    second = _lock(chain, amount=456)
    # when: the last lock has only one confirmation
    _scan_until_idle(network)
    # then: only the confirmed lock is stored
    assert [e.lock_id for e in _stored()] == [first]
    # when: one more block confirms the second
    chain.mine()
    _scan_until_idle(network)
    # then
    stored = _stored()
    assert [e.lock_id for e in stored] == [first, second]
    event = stored[1]
    receipt = chain.w3.eth.get_transaction_receipt(event.tx_hash)
    assert event.block_number == receipt["blockNumber"]
    assert event.block_hash == receipt["blockHash"].to_0x_hex()
    assert event.args["amount"] == "456"
    assert event.args["sender"] == user(1).address
    assert [e.lock_id for e in SEEN] == [first, second]


def test_repeated_ranges_store_nothing_twice(chain, network):
    # given
    lock_id = _lock(chain)
    chain.mine(2)
    _scan_until_idle(network)
    # when: the same blocks are delivered again (cursor rewound, as after a lost ack)
    watcher.cursor_rewind(network="local-a", before_block=0)
    results = _scan_until_idle(network)
    # then
    assert [e.lock_id for e in _stored()] == [lock_id]
    assert sum(r.duplicates for r in results) == 1
    assert len(SEEN) == 1


def test_a_worker_dying_mid_pass_loses_and_duplicates_nothing(chain, network):
    # given: events, and a hook that fails once in the middle of storing them
    ids = [_lock(chain) for _ in range(3)]
    chain.mine(2)
    with override_settings(CHAIN_EVENT_HOOKS=["chains.tests.test_watcher.failing_hook"]):
        # when: the first pass dies, a restarted worker runs the next
        with pytest.raises(ChainUnavailable):
            watcher.network_scan(network=network)
        assert _stored() == []
        assert ChainCursor.objects.get(network="local-a").last_block < 0
        ChainCursor.objects.filter(network="local-a").update(circuit_open_until=None)
        _scan_until_idle(network)
    # then
    assert [e.lock_id for e in _stored()] == ids
    assert [e.lock_id for e in SEEN] == ids


def test_a_lease_held_by_a_dead_worker_expires(chain, network):
    # given: a worker took the lease and died
    lock_id = _lock(chain)
    chain.mine(2)
    ChainCursor.objects.filter(network="local-a").update(
        lease_owner="dead-worker", lease_until=timezone.now() + timedelta(seconds=30)
    )
    # when / then: nobody else scans while the lease holds
    assert watcher.network_scan(network=network).status == "busy"
    assert _stored() == []
    # when: the lease runs out
    ChainCursor.objects.filter(network="local-a").update(lease_until=timezone.now())
    _scan_until_idle(network)
    # then
    assert [e.lock_id for e in _stored()] == [lock_id]


def test_rpc_outage_mid_scan_skips_nothing(chain, network, proxy):
    # given: events, and an RPC that fails after two more requests (mid-pass)
    ids = [_lock(chain) for _ in range(2)]
    chain.mine(2)
    proxy.fail_after = 2
    # when
    with pytest.raises(ChainUnavailable):
        watcher.network_scan(network=network)
    with pytest.raises(ChainUnavailable):
        watcher.network_scan(network=network)
    # then: nothing stored, the circuit opened after the threshold
    assert _stored() == []
    cursor = ChainCursor.objects.get(network="local-a")
    assert cursor.consecutive_failures == 2
    assert cursor.circuit_open_until > timezone.now()
    assert watcher.network_scan(network=network).status == "circuit_open"
    # when: the RPC comes back and the pause has passed
    proxy.fail_after = None
    ChainCursor.objects.filter(network="local-a").update(circuit_open_until=timezone.now())
    _scan_until_idle(network)
    # then
    assert [e.lock_id for e in _stored()] == ids
    cursor = ChainCursor.objects.get(network="local-a")
    assert cursor.consecutive_failures == 0
    assert cursor.last_error == ""


def test_health_reports_the_circuit_of_each_network(client, chain, network, proxy):
    # given
    proxy.down = True
    for _ in range(2):
        with pytest.raises(ChainUnavailable):
            watcher.network_scan(network=network)
    # when
    checks = client.get("/health/ready").json()["checks"]
    # then
    assert checks["chain:local-a"]["status"] == "fail"
    assert checks["watcher:local-a"]["status"] == "fail"
    assert "circuit open" in checks["watcher:local-a"]["detail"]


def test_reorg_orphans_events_from_replaced_blocks(chain, network):
    # given: a lock confirmed and stored, on blocks that will be replaced
    keep = _lock(chain)
    chain.mine(2)
    _scan_until_idle(network)
    fork = chain.snapshot()
    doomed = _lock(chain, amount=777)
    chain.mine(3)
    _scan_until_idle(network)
    assert [e.lock_id for e in _stored()] == [keep, doomed]
    # when: the chain reorganises to a longer branch without that lock
    chain.revert(fork)
    replacement = _lock(chain, amount=888, sender=3)
    chain.mine(6)
    results = _scan_until_idle(network, limit=10)
    results += _scan_until_idle(network, limit=10)
    # then: the orphaned event is kept for the record but no longer counts
    assert [e.lock_id for e in _stored()] == [keep, replacement]
    orphan = ChainEvent.objects.get(lock_id=doomed)
    assert orphan.orphaned is True
    assert any(r.status == "rolled_back" for r in results)
    assert [(e.lock_id, e.orphaned) for e in SEEN] == [
        (keep, False),
        (doomed, False),
        (doomed, True),
        (replacement, False),
    ]


def test_metrics_show_head_cursor_and_lag_per_network(client, chain, network):
    # given
    _lock(chain)
    chain.mine(3)
    _scan_until_idle(network)
    cursor = ChainCursor.objects.get(network="local-a")
    # when
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    # then
    assert f'chain_head_block{{network="local-a"}} {float(cursor.head_block)}' in text
    assert f'chain_cursor_block{{network="local-a"}} {float(cursor.last_block)}' in text
    lag = float(cursor.head_block - cursor.last_block)
    assert f'chain_lag_blocks{{network="local-a"}} {lag}' in text


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_store_each_event_once(postgres_url, chain, network):
    # given: events, and four workers scanning the same network at once
    ids = [_lock(chain) for _ in range(5)]
    chain.mine(2)
    errors = []

    def worker():
        from django.db import connection

        try:
            for _ in range(20):
                watcher.network_scan(network=network)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then
    assert errors == []
    assert [e.lock_id for e in _stored()] == ids
    assert sorted(e.lock_id for e in SEEN) == sorted(ids)


def test_every_subscriber_hears_an_event_after_the_lock_table_has_it(chain, network, monkeypatch):
    # given: a registered subscriber and an outside one, each noting whether the lock's row
    # was already there when it heard the event
    heard: list[tuple[str, bool]] = []

    def noting(name):
        def subscriber(event):
            heard.append((name, HtlcLock.objects.filter(lock_id=event.lock_id).exists()))

        return subscriber

    events.subscribe("app", noting("app"), order=events.Order.DOMAIN)
    monkeypatch.setattr("chains.tests.test_watcher.recording_hook", noting("outside"))
    lock_id = _lock(chain)
    chain.mine(2)
    # when
    _scan_until_idle(network)
    # then: the app's subscriber before the outside one, both after the lock table
    assert heard == [("app", True), ("outside", True)]
    assert HtlcLock.objects.get(lock_id=lock_id).state == HtlcLock.State.LOCKED


def test_the_project_wires_its_subscribers_in_a_fixed_order(settings):
    # given: the apps as installed; one outside subscriber in settings
    settings.CHAIN_EVENT_HOOKS = ["chains.tests.test_watcher.recording_hook"]
    # then: the lock table first, the relayer, the swaps, outside subscribers last
    assert events.subscriber_names() == ["chains.locks", "chains.relayer", "swaps.chain"]
    assert [f"{s.__module__}.{s.__name__}" for s in events.subscribers()] == [
        "chains.locks.on_chain_event",
        "chains.relayer.on_chain_event",
        "swaps.chain.on_chain_event",
        "chains.tests.test_watcher.recording_hook",
    ]
