"""The relayer killed between signing and broadcasting: the stored transaction is sent
again after the restart, byte for byte, and no nonce is ever used by two transactions.

The kill is a ``BaseException`` raised where the broadcast would happen, after the signed
transaction and the advanced nonce were committed: nothing in the relayer catches it, as
nothing in a process survives SIGKILL. The "restart" is what a fresh worker runs: the next
relayer pass (``chains.relay_refunds``).
"""

import pytest
from django.test import override_settings
from prometheus_client import generate_latest
from web3 import Web3
from web3.exceptions import TransactionNotFound

from chains import evm, relayer, selectors, services
from chains.keys import account_for
from chains.models import RelayerAccount, RelayerTx
from chains.tasks import relay_refunds
from chains.tests.support import network_config, secret_pair, start_chain, user

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so no handler on the way catches it."""


@pytest.fixture
def chain_a():
    a = start_chain(31337)
    with override_settings(
        CHAIN_NETWORKS=[network_config("local-a", 31337, a.node.rpc_url)],
        RELAYER_STUCK_SECONDS=3600,
        RELAYER_LOCK_FILTER=None,
    ):
        services.contract_deploy(network=selectors.network_get("local-a"), contract="HTLC")
        yield a
    a.node.stop()


def _expired_lock(chain) -> str:
    _, hashlock = secret_pair()
    htlc = selectors.htlc_deployment_get("local-a").address
    lock_id, _ = chain.lock_native(
        user(3),
        htlc,
        recipient=user(4).address,
        hashlock=hashlock,
        timelock=chain.now() + 30,
        amount=10**15,
    )
    return lock_id


def _relayer_nonce(chain) -> int:
    return chain.w3.eth.get_transaction_count(
        account_for(role="RELAYER", network="local-a").address
    )


def _lock_state(chain, lock_id: str) -> int:
    htlc = chain.htlc(selectors.htlc_deployment_get("local-a").address)
    return htlc.functions.getLock(Web3.to_bytes(hexstr=lock_id)).call()[6]


def _kill_at_broadcast(monkeypatch) -> None:
    def killed(w3, raw_tx):
        raise Killed()

    monkeypatch.setattr(evm, "broadcast", killed)


def test_a_kill_between_signing_and_broadcasting_is_resent_after_a_restart(chain_a, monkeypatch):
    # given: an expired lock, and a relayer killed right after storing its signed refund
    lock_id = _expired_lock(chain_a)
    chain_a.travel(31)
    nonce_before = _relayer_nonce(chain_a)
    network = selectors.network_get("local-a")
    _kill_at_broadcast(monkeypatch)
    with pytest.raises(Killed):
        relayer.relayer_refund(network=network, lock_id=lock_id)
    stored = RelayerTx.objects.get(lock_id=lock_id)
    assert (stored.status, stored.nonce) == ("signed", nonce_before)
    assert stored.raw_tx.startswith("0x") and stored.sent_at is None
    assert RelayerAccount.objects.get(network="local-a").next_nonce == nonce_before + 1
    with pytest.raises(TransactionNotFound):
        chain_a.w3.eth.get_transaction(stored.tx_hash)  # the chain never saw it
    monkeypatch.undo()

    # when: the worker restarts; the task comes again, then the periodic pass runs
    assert relayer.relayer_refund(network=network, lock_id=lock_id) is None  # nothing new
    relay_refunds()
    chain_a.mine(1)
    relay_refunds()

    # then: the very transaction signed before the kill was mined, at its nonce
    tx = RelayerTx.objects.get(lock_id=lock_id)
    assert (tx.status, tx.tx_hash, tx.nonce) == ("mined", stored.tx_hash, nonce_before)
    sent = chain_a.w3.eth.get_transaction(stored.tx_hash)
    assert sent["nonce"] == nonce_before
    assert _relayer_nonce(chain_a) == nonce_before + 1  # one transaction used the nonce
    assert _lock_state(chain_a, lock_id) == 3  # refunded
    assert RelayerTx.objects.count() == 1


def test_work_signed_after_a_kill_takes_the_next_nonce_and_both_are_mined(chain_a, monkeypatch):
    # given: the first refund is killed before its broadcast
    first_lock, second_lock = _expired_lock(chain_a), _expired_lock(chain_a)
    chain_a.travel(31)
    network = selectors.network_get("local-a")
    nonce_before = _relayer_nonce(chain_a)
    _kill_at_broadcast(monkeypatch)
    with pytest.raises(Killed):
        relayer.relayer_refund(network=network, lock_id=first_lock)
    monkeypatch.undo()
    # when: another worker refunds the second lock before any relayer pass has run
    second = relayer.relayer_refund(network=network, lock_id=second_lock)
    # then: it took the next nonce (the chain's pending count still says the first)
    assert second is not None and second.nonce == nonce_before + 1
    # when: the pass re-sends the first; blocks come
    relay_refunds()
    chain_a.mine(1)
    relay_refunds()
    # then: two nonces, two transactions, both locks refunded, nothing else sent
    rows = list(RelayerTx.objects.order_by("nonce").values_list("nonce", "status"))
    assert rows == [(nonce_before, "mined"), (nonce_before + 1, "mined")]
    assert _relayer_nonce(chain_a) == nonce_before + 2
    assert _lock_state(chain_a, first_lock) == _lock_state(chain_a, second_lock) == 3


def test_an_unreachable_node_at_broadcast_leaves_the_tx_for_the_next_pass(chain_a, monkeypatch):
    # given: the RPC fails exactly at the broadcast
    lock_id = _expired_lock(chain_a)
    chain_a.travel(31)
    network = selectors.network_get("local-a")

    def down(w3, raw_tx):
        raise ConnectionError("connection refused")

    monkeypatch.setattr(evm, "broadcast", down)
    # when
    tx = relayer.relayer_refund(network=network, lock_id=lock_id)
    # then: kept, not lost, not failed
    assert tx is not None and RelayerTx.objects.get().status == "signed"
    monkeypatch.undo()
    assert relayer.relayer_resume(network=network) == 1
    assert RelayerTx.objects.get().status == "pending"


def test_metrics_show_the_relayer_balance_and_its_unsent_transactions(chain_a, monkeypatch):
    # given: one transaction stored but not sent, and a relayer pass that read the balance
    lock_id = _expired_lock(chain_a)
    chain_a.travel(31)
    network = selectors.network_get("local-a")
    _kill_at_broadcast(monkeypatch)
    with pytest.raises(Killed):
        relayer.relayer_refund(network=network, lock_id=lock_id)
    monkeypatch.undo()
    wei = relayer.relayer_balance_record(network=network)
    address = account_for(role="RELAYER", network="local-a").address
    # when
    with override_settings(RELAYER_MIN_BALANCE_ETH=0.5):
        text = generate_latest().decode()
    # then
    assert f'relayer_balance_ether{{address="{address}",network="local-a"}} {wei / 10**18}' in text
    assert 'relayer_balance_min_ether{network="local-a"} 0.5' in text
    assert 'relayer_txs{network="local-a",status="signed"} 1.0' in text
    assert 'relayer_txs{network="local-a",status="pending"} 0.0' in text
    assert "chain_circuit_open" in text or "chain_cursor_block" not in text
