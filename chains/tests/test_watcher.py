"""The watcher on real anvil chains: exactly once, whatever happens in between."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from web3 import Web3
from web3._utils.events import get_event_data

from chains import compiler, events, rpc, selectors, services, watcher
from chains.interface import ChainUnavailable
from chains.models import ChainCursor, ChainEvent, HtlcLock, ScannedBlock
from chains.tests.support import RpcProxy, network_config, secret_pair, start_chain, user

pytestmark = pytest.mark.django_db
SEEN: list = []
FAIL_ONCE: list = []


def recording_hook(batch) -> None:
    SEEN.extend(batch)


def failing_hook(batch) -> None:
    """Fails on its first call, like a worker killed in the middle of a pass."""
    if not FAIL_ONCE:
        FAIL_ONCE.extend(batch)
        raise RuntimeError("worker died")
    SEEN.extend(batch)


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


_SKIPPED_BUSY = 'chain_scan_skipped_total{network="local-a",reason="busy"}'


def _metrics() -> str:
    return Client().get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()


def _metric(text: str, sample: str) -> float:
    """The value of `sample` (name and labels) in a /metrics page; 0 when absent."""
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


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


class WorkerKilled(BaseException):
    """Like SIGKILL mid-scan: nothing of the scan's own cleanup runs (see the test)."""


def killed_hook(batch) -> None:
    raise WorkerKilled


def test_a_scanner_killed_mid_scan_blocks_the_network_for_one_short_lease_at_most(
    chain, network, monkeypatch, caplog
):
    # given: a worker killed in the middle of a scan: its lease taken, never released
    lock_id = _lock(chain)
    chain.mine(2)
    watcher._event_shapes()  # compiled before the clock starts: the lease is what is timed
    lease = 3  # seconds: short, yet longer than a scan and a refusal take on a loaded machine
    with override_settings(
        CHAIN_SCAN_LEASE_SECONDS=lease,
        CHAIN_EVENT_HOOKS=["chains.tests.test_watcher.killed_hook"],
    ):
        with monkeypatch.context() as m:
            m.setattr(watcher, "_lease_release", lambda network, owner: None)  # its finally
            with pytest.raises(WorkerKilled):
                watcher.network_scan(network=network)
        died = timezone.now()
        cursor = ChainCursor.objects.get(network="local-a")
        assert cursor.lease_owner and cursor.lease_until <= died + timedelta(seconds=lease)
        # when: another worker tries at once
        skipped_before = _metric(_metrics(), _SKIPPED_BUSY)
        with caplog.at_level(logging.INFO, logger="chains.watcher"):
            refused = watcher.network_scan(network=network)
        # then: refused, and it says so: logged with the holder and its age, and counted
        assert refused.status == "busy"
        record = next(r for r in caplog.records if r.getMessage() == "chain scan skipped")
        assert (record.network, record.reason, record.holder) == (
            "local-a",
            "busy",
            cursor.lease_owner,
        )
        assert 0 <= record.holder_age_s < 5
        assert _metric(_metrics(), _SKIPPED_BUSY) == skipped_before + 1
        # when: one short lease has passed since the worker died
        time.sleep(max((cursor.lease_until - timezone.now()).total_seconds(), 0) + 0.05)
        with override_settings(CHAIN_EVENT_HOOKS=["chains.tests.test_watcher.recording_hook"]):
            _scan_until_idle(network)
    # then: the next worker took over
    assert [e.lock_id for e in _stored()] == [lock_id]
    assert [e.lock_id for e in SEEN] == [lock_id]


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
        def subscriber(batch):
            for event in batch:
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
    # then: the lock table first, the relayer, the swaps and the escrow (INSTALLED_APPS
    # order within DOMAIN), outside subscribers last
    assert events.subscriber_names() == [
        "chains.locks",
        "chains.relayer",
        "swaps.chain",
        "escrow.chain",
    ]
    assert [f"{s.__module__}.{s.__name__}" for s in events.subscribers()] == [
        "chains.locks.on_chain_event",
        "chains.relayer.on_chain_event",
        "swaps.chain.on_chain_event",
        "escrow.chain.on_chain_events",
        "chains.tests.test_watcher.recording_hook",
    ]


def slow_hook(batch) -> None:
    """A subscriber slow enough that a scan of a few batches outlasts a one-second lease."""
    time.sleep(0.4)
    SEEN.extend(batch)


@pytest.mark.django_db(transaction=True)
def test_a_live_scanner_keeps_its_lease_through_a_scan_longer_than_the_lease(
    postgres_url, chain, network
):
    # given: four locks in four blocks; batches of one block; a one-second lease; a
    # subscriber that makes the whole catch-up last well over that lease
    ids = [_lock(chain) for _ in range(4)]
    chain.mine(2)
    outcome: dict = {}

    def holder() -> None:
        from django.db import connection

        try:
            outcome["result"] = watcher.network_catch_up(network=network, budget_seconds=60)
        except Exception as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    with override_settings(
        CHAIN_SCAN_LEASE_SECONDS=1,
        CHAIN_SCAN_BATCH=1,
        CHAIN_EVENT_HOOKS=["chains.tests.test_watcher.slow_hook"],
    ):
        # when: a second worker tries again and again while the first is scanning
        thread = threading.Thread(target=holder)
        started = time.monotonic()
        thread.start()
        while thread.is_alive() and not ChainCursor.objects.filter(lease_owner__gt="").exists():
            time.sleep(0.01)  # until the first worker holds the lease
        others = []
        while thread.is_alive():
            others.append(watcher.network_scan(network=network).status)
            time.sleep(0.1)
        thread.join()
        lasted = time.monotonic() - started
    # then: the scan outlasted its lease, was never taken over, and stored everything once
    assert "error" not in outcome
    assert lasted > 1.5
    assert outcome["result"].status == "scanned"
    assert outcome["result"].stored == 4
    assert outcome["result"].batches > 4
    assert others and set(others) == {"busy"}
    assert [e.lock_id for e in _stored()] == ids
    assert [e.lock_id for e in SEEN] == ids


def test_catch_up_stores_many_events_per_block_once_and_in_order_across_batches(chain, network):
    # given: twelve locks, several to a block, read in batches of two blocks
    htlc = _htlc_address()
    rpc.call(chain.node.rpc_url, "evm_setAutomine", [False])
    hashes = []
    for _ in range(3):
        for i in range(4):
            _, hashlock = secret_pair()
            tx = _lock_tx(chain, htlc, sender=1 + i, hashlock=hashlock)
            hashes.append(rpc.call(chain.node.rpc_url, "eth_sendRawTransaction", [tx]))
        chain.mine()
    rpc.call(chain.node.rpc_url, "evm_setAutomine", [True])
    chain.mine(2)
    receipts = [chain.w3.eth.get_transaction_receipt(h) for h in hashes]
    assert all(r["status"] == 1 for r in receipts)
    assert len({r["blockNumber"] for r in receipts}) == 3
    expected = [
        Web3.to_hex(log["topics"][1])
        for r in sorted(receipts, key=lambda r: (r["blockNumber"], r["transactionIndex"]))
        for log in r["logs"]
    ]
    # when
    with override_settings(CHAIN_SCAN_BATCH=2):
        result = watcher.network_catch_up(network=network, budget_seconds=30)
        # and the same blocks once more, as after a lost acknowledgement
        watcher.cursor_rewind(network="local-a", before_block=0)
        again = watcher.network_catch_up(network=network, budget_seconds=30)
    # then: each stored once, heard once, in chain order
    head = chain.w3.eth.block_number
    assert (result.status, result.to_block, result.stored) == ("scanned", head - 1, 12)
    assert result.batches > 2
    assert again.stored == 0 and again.duplicates == 12
    assert [e.lock_id for e in _stored()] == expected
    assert [e.lock_id for e in SEEN] == expected
    assert HtlcLock.objects.count() == 12


def test_recorded_block_hashes_stay_in_the_reorg_window_and_are_rewritten_after_a_rewind(
    chain, network
):
    # given: locks in four blocks among empty ones, read in batches of three blocks
    for _ in range(4):
        _lock(chain)
        chain.mine(2)

    def recorded() -> dict[int, str]:
        rows = ScannedBlock.objects.filter(network="local-a", number__gt=watcher.GENESIS_MARKER)
        return dict(rows.values_list("number", "hash"))

    def on_chain(numbers) -> dict[int, str]:
        return {n: chain.w3.eth.get_block(n)["hash"].to_0x_hex() for n in numbers}

    with override_settings(CHAIN_SCAN_BATCH=3, CHAIN_REORG_WINDOW=5):
        first = watcher.network_catch_up(network=network, budget_seconds=30)
        kept = recorded()
        # when: the same blocks read again, as after a contract deployment's rewind
        watcher.cursor_rewind(network="local-a", before_block=0)
        again = watcher.network_catch_up(network=network, budget_seconds=30)
    # then: only blocks of the window, each batch's last one among them, as the chain has
    # them; the second reading rewrote the same hashes, once each, and stored nothing twice
    last = first.to_block
    assert first.stored == 4 and again.stored == 0 and again.to_block == last
    assert last in kept and min(kept) >= last - 5
    assert kept == on_chain(kept)
    assert recorded() == kept
    genesis = ScannedBlock.objects.filter(network="local-a", number=watcher.GENESIS_MARKER)
    assert genesis.count() == 1


def _lock_tx(chain, htlc: str, *, sender: int, hashlock: bytes) -> str:
    """A signed lock of 1 gwei for user(2), not sent, so several can share a block."""
    account = user(sender)
    data = chain.htlc(htlc).encode_abi("lock", args=[user(2).address, hashlock, chain.now() + 3600])
    tx = {
        "chainId": 31337,
        "to": htlc,
        "data": data,
        "value": 10**9,
        "nonce": chain.w3.eth.get_transaction_count(account.address, "pending"),
        "gas": 300_000,
        "maxFeePerGas": 50 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    return account.sign_transaction(tx).raw_transaction.to_0x_hex()


def test_a_batch_reads_the_chain_in_three_requests_however_many_blocks_hold_events(
    chain, network, proxy
):
    # given: five locks in five blocks
    for _ in range(5):
        _lock(chain)
    chain.mine(2)
    before = proxy.requests
    # when
    result = watcher.network_scan(network=network)
    # then: head, genesis and newest recorded block; the logs; the five blocks' headers
    assert result.status == "scanned" and result.stored == 5
    assert proxy.requests - before == 3


def test_the_head_is_recorded_even_when_the_batch_then_fails(chain, network, proxy):
    # given: a scanned network, then new blocks, and an RPC that fails after one request
    _scan_until_idle(network)
    chain.mine(5)
    proxy.fail_after = 1
    # when
    with pytest.raises(ChainUnavailable):
        watcher.network_scan(network=network)
    # then: the head read by the first request is the one the metrics show
    assert ChainCursor.objects.get(network="local-a").head_block == chain.w3.eth.block_number


def test_lag_keeps_growing_when_nobody_reads_the_head(chain, network):
    # given: a cursor 2 blocks behind a head read 100 s ago, on a chain of 1-second blocks
    _lock(chain)
    chain.mine(3)
    _scan_until_idle(network)
    cursor = ChainCursor.objects.get(network="local-a")
    ChainCursor.objects.filter(pk=cursor.pk).update(
        last_block=cursor.head_block - 2, updated_at=timezone.now() - timedelta(seconds=100)
    )
    # when
    text = _metrics()
    # then: the lag counts the blocks the chain has made since, and the reading's age shows
    assert 100 <= _metric(text, 'chain_head_age_seconds{network="local-a"}') < 110
    assert 102 <= _metric(text, 'chain_lag_blocks{network="local-a"}') < 112
    assert _metric(text, 'chain_head_block{network="local-a"}') == cursor.head_block


def test_events_decode_as_web3_decodes_them(chain, network):
    # given: a Locked, a Redeemed and a Refunded on chain
    preimage, hashlock = secret_pair()
    htlc = chain.htlc(_htlc_address())
    redeemed, _ = chain.lock_native(
        user(1),
        htlc.address,
        recipient=user(2).address,
        hashlock=hashlock,
        timelock=chain.now() + 3600,
        amount=10**15,
    )
    chain.send(user(2), htlc.address, htlc.encode_abi("redeem", args=[redeemed, preimage]))
    refunded = _lock(chain, timelock_in=5)
    chain.travel(10)
    chain.send(user(1), htlc.address, htlc.encode_abi("refund", args=[refunded]))
    raw = rpc.call(
        chain.node.rpc_url, "eth_getLogs", [{"address": htlc.address, "fromBlock": "0x0"}]
    )
    formatted = chain.w3.eth.get_logs({"address": htlc.address, "fromBlock": 0})
    abis = {
        Web3.keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): e
        for e in compiler.compile_contract("HTLC").abi
        if e.get("type") == "event"
    }
    # when
    timestamps = {int(log["blockNumber"], 16): 0 for log in raw}
    decoded = [watcher._decode("local-a", log, watcher._event_shapes(), timestamps) for log in raw]
    # then
    names = []
    for ours, log in zip(decoded, formatted, strict=True):
        theirs = get_event_data(Web3().codec, abis[log["topics"][0]], log)
        if theirs["event"] not in ChainEvent.Name.values:
            assert ours is None
            continue
        names.append(ours.name)
        as_json = {
            k: Web3.to_hex(v) if isinstance(v, bytes) else str(v) if isinstance(v, int) else v
            for k, v in theirs["args"].items()
        }
        assert ours.args == as_json
        assert (ours.tx_hash, ours.log_index, ours.block_hash, ours.contract) == (
            Web3.to_hex(log["transactionHash"]),
            log["logIndex"],
            Web3.to_hex(log["blockHash"]),
            log["address"],
        )
    assert names == ["Locked", "Redeemed", "Locked", "Refunded"]


@pytest.fixture
def project_network(chain, proxy):
    """local-a reached through the proxy, with the project's own subscribers as the apps
    register them (the lock table, the relayer, swaps, escrow) and no outside hook."""
    config = network_config("local-a", 31337, proxy.url, confirmations=2)
    with override_settings(CHAIN_NETWORKS=[config], CHAIN_EVENT_HOOKS=[]):
        network = selectors.network_get("local-a")
        services.contract_deploy(network=network, contract="HTLC")
        yield network


def _locks_in_blocks(chain, per_block: int, blocks: int) -> None:
    """`per_block` locks in each of `blocks` blocks, then the confirmations mined."""
    htlc = _htlc_address()
    rpc.call(chain.node.rpc_url, "evm_setAutomine", [False])
    try:
        for _ in range(blocks):
            for i in range(per_block):
                _, hashlock = secret_pair()
                tx = _lock_tx(chain, htlc, sender=1 + i % 5, hashlock=hashlock)
                rpc.call(chain.node.rpc_url, "eth_sendRawTransaction", [tx])
            chain.mine()
    finally:
        rpc.call(chain.node.rpc_url, "evm_setAutomine", [True])
    chain.mine(2)


def test_a_batch_costs_the_same_queries_for_3_events_as_for_30(chain, project_network):
    # given: the deployment scanned, then 3 locks in 3 blocks
    _scan_until_idle(project_network)
    _locks_in_blocks(chain, per_block=1, blocks=3)
    # when: a batch of 3 events, then one of 30 (ten to a block), with every subscriber
    with CaptureQueriesContext(connection) as three:
        small = watcher.network_scan(network=project_network)
    _locks_in_blocks(chain, per_block=10, blocks=3)
    with CaptureQueriesContext(connection) as thirty:
        large = watcher.network_scan(network=project_network)
    # then: each stored, in the same number of queries (no query per event or per block)
    assert (small.stored, large.stored) == (3, 30)
    assert len(three) == len(thirty), [q["sql"][:70] for q in thirty]
    assert HtlcLock.objects.count() == 33


@pytest.mark.parametrize("fails", [False, True])
def test_a_batch_pauses_the_cyclic_gc_and_gives_it_back_as_it_found_it(monkeypatch, fails):
    # given: a batch that notes whether the collector runs, and may fail
    import gc

    seen = []

    def batch_run(network, owner, batch, lease=None):
        seen.append(gc.isenabled())
        if fails:
            raise RuntimeError("RPC gone")
        return watcher.ScanResult("local-a", "idle")

    monkeypatch.setattr(watcher, "_batch_run", batch_run)
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        try:
            # when
            try:
                watcher._batch(None, "owner", 1)
            except RuntimeError:
                assert fails
            # then: paused inside, as it was outside afterwards
            assert seen.pop() is False
            assert gc.isenabled() is enabled
        finally:
            gc.enable()


def test_overlapping_batches_in_two_threads_give_the_collector_back_once_both_end(monkeypatch):
    # given: two networks' batches in the head follower's threads, the second starting
    # while the first runs and ending after it
    import gc

    first_in, first_may_end, second_in, second_may_end = (threading.Event() for _ in range(4))
    during = []

    def batch_run(network, owner, batch, lease=None):
        if network == "a":
            first_in.set()
            first_may_end.wait(10)
        else:
            second_in.set()
            second_may_end.wait(10)
            during.append(gc.isenabled())
        return watcher.ScanResult(network, "idle")

    monkeypatch.setattr(watcher, "_batch_run", batch_run)
    gc.enable()
    first = threading.Thread(target=watcher._batch, args=("a", "owner", 1))
    second = threading.Thread(target=watcher._batch, args=("b", "owner", 1))
    try:
        first.start()
        assert first_in.wait(10)
        second.start()
        assert second_in.wait(10)
        # when: the first ends while the second still runs
        first_may_end.set()
        first.join(10)
        # then: still paused for the second; given back once it ends
        assert gc.isenabled() is False
        second_may_end.set()
        second.join(10)
        assert during == [False]
        assert gc.isenabled() is True
    finally:
        first_may_end.set()
        second_may_end.set()
        gc.enable()
