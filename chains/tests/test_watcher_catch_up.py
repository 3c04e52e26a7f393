"""The watcher's reads checked against what it stored, and a catch-up that trusts what it
stored itself: on real anvil chains, with reorgs landing between the reads."""

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from chains import events, selectors, services, watcher
from chains.models import ChainEvent
from chains.tests.support import RpcProxy, network_config, secret_pair, start_chain, user

pytestmark = pytest.mark.django_db
SEEN: list = []
HOOK: list[Callable[[list], None]] = []  # what the subscriber does besides recording


def recording_hook(batch) -> None:
    for hook in HOOK:
        hook(batch)
    SEEN.extend(batch)


@pytest.fixture(autouse=True)
def _clear():
    SEEN.clear()
    HOOK.clear()


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
    """local-a reached through the proxy, with the lock table and the recording hook only."""
    monkeypatch.setattr(events, "_registered", {})
    config = network_config("local-a", 31337, proxy.url, confirmations=2)
    with override_settings(
        CHAIN_NETWORKS=[config],
        CHAIN_EVENT_HOOKS=["chains.tests.test_watcher_catch_up.recording_hook"],
    ):
        network = selectors.network_get("local-a")
        services.contract_deploy(network=network, contract="HTLC")
        yield network


def _lock(chain, *, amount=10**15, sender=1, htlc: str | None = None):
    _, hashlock = secret_pair()
    lock_id, _ = chain.lock_native(
        user(sender),
        htlc or selectors.htlc_deployment_get("local-a").address,
        recipient=user(2).address,
        hashlock=hashlock,
        timelock=chain.now() + 3600,
        amount=amount,
    )
    return lock_id


def _scan_until_idle(network, limit=20) -> list[str]:
    statuses = []
    for _ in range(limit):
        statuses.append(watcher.network_scan(network=network).status)
        if statuses[-1] == "idle":
            return statuses
    raise AssertionError(f"watcher never went idle: {statuses}")


def _stored() -> list[str]:
    rows = ChainEvent.objects.filter(orphaned=False).order_by("block_number", "log_index")
    return [e.lock_id for e in rows]


def _reorg_on(proxy, chain, fork: str, replacement: list, *, at: Callable[[int, bytes], bool]):
    """At the first request `at` accepts, before it is forwarded: the chain goes back to
    `fork` and grows a longer branch holding one other lock (its id into `replacement`)."""
    htlc = selectors.htlc_deployment_get("local-a").address  # the proxy's thread has no DB

    def before(n: int, body: bytes) -> None:
        if at(n, body) and not replacement:
            chain.revert(fork)
            replacement.append(_lock(chain, amount=888, sender=3, htlc=htlc))
            chain.mine(8)

    proxy.before = before


def test_a_reorg_between_the_head_check_and_the_log_reads_is_caught_by_the_parent_hash(
    chain, network, proxy
):
    # given: a lock stored, then one more on blocks that will be replaced, stored too, and
    # two blocks more to read on that branch
    keep = _lock(chain)
    chain.mine(2)
    _scan_until_idle(network)
    fork = chain.snapshot()
    doomed = _lock(chain, amount=777)
    chain.mine(3)
    _scan_until_idle(network)
    assert _stored() == [keep, doomed]
    chain.mine(2)
    # when: the chain reorganises after the scan checked the newest recorded block and
    # before it reads the logs (so the range read lies on the new branch)
    replacement: list = []
    _reorg_on(proxy, chain, fork, replacement, at=lambda n, body: b"eth_getLogs" in body)
    statuses = _scan_until_idle(network)
    # then: that range was not stored on top of the old branch; the reorg was rolled back
    assert replacement and statuses[0] == "aborted"
    assert "rolled_back" in statuses
    assert _stored() == [keep, replacement[0]]
    assert ChainEvent.objects.get(lock_id=doomed).orphaned is True
    assert [(e.lock_id, e.orphaned) for e in SEEN] == [
        (keep, False),
        (doomed, False),
        (doomed, True),
        (replacement[0], False),
    ]


def test_a_reorg_between_two_batches_of_a_catch_up_is_found_with_the_hashes_it_kept(
    chain, network, proxy
):
    # given: the deployment read; then a lock that will be replaced, in the first of
    # several batches of two blocks
    _scan_until_idle(network)
    fork = chain.snapshot()
    doomed = _lock(chain, amount=777)
    chain.mine(4)
    # when: the chain reorganises after the first batch read its blocks (three requests)
    # and before the second one reads the head and the newest recorded block's hash
    replacement: list = []
    first = proxy.requests + 1
    _reorg_on(proxy, chain, fork, replacement, at=lambda n, body: n == first + 3)
    with override_settings(CHAIN_SCAN_BATCH=2):
        result = watcher.network_catch_up(network=network, budget_seconds=30)
        statuses = _scan_until_idle(network)
    # then: the first batch's event was stored; the second batch, checking the hash the
    # first one kept, found the reorg and rolled it back; the new branch was read after
    assert replacement
    assert (result.status, result.batches, result.orphaned) == ("rolled_back", 2, 1)
    assert "aborted" not in statuses
    assert _stored() == replacement
    assert ChainEvent.objects.get(lock_id=doomed).orphaned is True
    assert [(e.lock_id, e.orphaned) for e in SEEN] == [
        (doomed, False),
        (doomed, True),
        (replacement[0], False),
    ]


def test_catch_up_reads_recorded_hashes_once_not_once_a_batch(chain, network):
    # given: four locks in four blocks, read two blocks a batch
    ids = [_lock(chain) for _ in range(4)]
    chain.mine(2)
    # when
    with override_settings(CHAIN_SCAN_BATCH=2), CaptureQueriesContext(connection) as queries:
        result = watcher.network_catch_up(network=network, budget_seconds=30)
    # then: the newest recorded hash and the genesis hash were read by the first batch only
    reads = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and "chains_scannedblock" in q["sql"]
    ]
    assert result.batches >= 3 and _stored() == ids
    assert len(reads) == 2, reads
