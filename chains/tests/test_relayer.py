"""The relayer on two real anvil chains: it finishes swaps and never receives user funds."""

import pytest
from web3 import Web3

from chains import relayer, selectors
from chains.keys import account_for
from chains.models import HtlcLock, RelayerAccount, RelayerTx
from chains.tasks import relay_refunds
from chains.tests.support import (
    gas_cost,
    htlc_address,
    scan_until_idle,
    secret_pair,
    swap_locks,
    two_local_chains,
    user,
)

pytestmark = pytest.mark.django_db(transaction=True)
AMOUNT_A = 3 * 10**17  # taker's payment on local-a
AMOUNT_B = 5 * 10**16  # maker's asset on local-b


@pytest.fixture
def chains():
    with two_local_chains(RELAYER_STUCK_SECONDS=0, RELAYER_LOCK_FILTER=None) as both:
        yield both


def _net(name):
    return selectors.network_get(name)


def _relayer_address():
    return account_for(role="RELAYER", network="local-a").address


def test_preimage_revealed_on_one_chain_is_used_to_redeem_on_the_other(chains):
    # given: taker (1) locks on A for maker (2); maker locks on B for taker; same hashlock
    a, b = chains
    taker, maker = user(1), user(2)
    preimage, hashlock = secret_pair()
    taker_lock, maker_lock = swap_locks(
        a, b, hashlock=hashlock, taker_amount=AMOUNT_A, maker_amount=AMOUNT_B
    )
    a.mine(2)
    scan_until_idle("local-a")
    maker_before_a = a.w3.eth.get_balance(maker.address)
    relayer_before_a = a.w3.eth.get_balance(_relayer_address())
    # when: the taker redeems on B, which reveals the secret there
    data = b.htlc(htlc_address("local-b")).encode_abi(
        "redeem", args=[Web3.to_bytes(hexstr=maker_lock), preimage]
    )
    b.send(taker, htlc_address("local-b"), data)
    b.mine(2)
    scan_until_idle("local-b")  # the watcher sees Redeemed; the relayer redeems on A (eager task)
    a.mine(1)
    relayer.relayer_track(network=_net("local-a"))
    # then: the maker got exactly the taker's amount on A, sent by the relayer
    assert (
        a.htlc(htlc_address("local-a"))
        .functions.getLock(Web3.to_bytes(hexstr=taker_lock))
        .call()[6]
        == 2
    )
    assert a.w3.eth.get_balance(maker.address) == maker_before_a + AMOUNT_A
    tx = RelayerTx.objects.get(network="local-a", lock_id=taker_lock)
    assert (tx.action, tx.status) == ("redeem", "mined")
    revealed = HtlcLock.objects.get(network="local-b", lock_id=maker_lock)
    assert revealed.state == HtlcLock.State.REDEEMED
    assert revealed.preimage == Web3.to_hex(preimage)
    sent = a.w3.eth.get_transaction(tx.tx_hash)
    assert sent["from"] == _relayer_address()
    # the relayer paid gas and received nothing
    spent = gas_cost(a.w3.eth.get_transaction_receipt(tx.tx_hash))
    assert a.w3.eth.get_balance(_relayer_address()) == relayer_before_a - spent


def test_expired_lock_is_refunded_by_chain_time_not_server_time(chains):
    # given: a lock whose timelock is an hour away by chain time
    a, _ = chains
    sender = user(3)
    _, hashlock = secret_pair()
    before = a.w3.eth.get_balance(sender.address)
    lock_id, receipt = a.lock_native(
        sender,
        htlc_address("local-a"),
        recipient=user(4).address,
        hashlock=hashlock,
        timelock=a.now() + 3600,
        amount=AMOUNT_A,
    )
    a.mine(2)
    scan_until_idle("local-a")
    # when: not yet expired on chain, the relayer does nothing
    relay_refunds()
    assert not RelayerTx.objects.exists()
    # when: the chain's clock passes the timelock (the server's clock has not)
    a.travel(3601)
    relay_refunds()
    a.mine(1)
    relay_refunds()  # tracks the receipt
    # then: the sender has everything back but the gas of their own lock
    tx = RelayerTx.objects.get(lock_id=lock_id)
    assert (tx.action, tx.status) == ("refund", "mined")
    assert a.w3.eth.get_balance(sender.address) == before - gas_cost(receipt)
    assert (
        a.htlc(htlc_address("local-a")).functions.getLock(Web3.to_bytes(hexstr=lock_id)).call()[6]
        == 3
    )


def test_relaying_twice_sends_once(chains):
    # given
    a, _ = chains
    _, hashlock = secret_pair()
    lock_id, _ = a.lock_native(
        user(3),
        htlc_address("local-a"),
        recipient=user(4).address,
        hashlock=hashlock,
        timelock=a.now() + 60,
        amount=10**15,
    )
    a.travel(61)
    # when
    first = relayer.relayer_refund(network=_net("local-a"), lock_id=lock_id)
    second = relayer.relayer_refund(network=_net("local-a"), lock_id=lock_id)
    # then
    assert first is not None and second is None
    assert RelayerTx.objects.count() == 1


def test_nonces_survive_a_restart_and_never_repeat(chains):
    # given: three expired locks
    a, _ = chains
    ids = []
    for _ in range(3):
        _, hashlock = secret_pair()
        lock_id, _ = a.lock_native(
            user(5),
            htlc_address("local-a"),
            recipient=user(6).address,
            hashlock=hashlock,
            timelock=a.now() + 30,
            amount=10**15,
        )
        ids.append(lock_id)
    a.travel(31)
    # when: refunds are sent one by one; the relayer account row is what a restart reads
    relayer.relayer_refund(network=_net("local-a"), lock_id=ids[0])
    first_nonce = RelayerAccount.objects.get(network="local-a").next_nonce
    relayer.relayer_refund(network=_net("local-a"), lock_id=ids[1])
    relayer.relayer_refund(network=_net("local-a"), lock_id=ids[2])
    # then
    nonces = sorted(RelayerTx.objects.values_list("nonce", flat=True))
    assert nonces == [first_nonce - 1, first_nonce, first_nonce + 1]
    assert RelayerAccount.objects.get(network="local-a").next_nonce == first_nonce + 2


def test_a_stuck_transaction_is_repriced_at_the_same_nonce(chains):
    # given: mining stopped, so the relayer's refund stays pending
    a, _ = chains
    _, hashlock = secret_pair()
    lock_id, _ = a.lock_native(
        user(7),
        htlc_address("local-a"),
        recipient=user(8).address,
        hashlock=hashlock,
        timelock=a.now() + 30,
        amount=10**15,
    )
    a.travel(31)
    a.w3.provider.make_request("evm_setAutomine", [False])
    tx = relayer.relayer_refund(network=_net("local-a"), lock_id=lock_id)
    original = a.w3.eth.get_transaction(tx.tx_hash)
    # when: it is older than RELAYER_STUCK_SECONDS (0 here) and still unmined
    relayer.relayer_track(network=_net("local-a"))
    # then
    tx.refresh_from_db()
    assert tx.replaced_hashes == [original["hash"].to_0x_hex()]
    replacement = a.w3.eth.get_transaction(tx.tx_hash)
    assert replacement["nonce"] == original["nonce"] == tx.nonce
    assert replacement["maxFeePerGas"] > original["maxFeePerGas"]
    # when: blocks come again
    a.w3.provider.make_request("evm_setAutomine", [True])
    a.mine(1)
    relayer.relayer_track(network=_net("local-a"))
    # then: exactly one of the two was mined, and it refunded the lock
    tx.refresh_from_db()
    assert tx.status == "mined"
    assert (
        a.htlc(htlc_address("local-a")).functions.getLock(Web3.to_bytes(hexstr=lock_id)).call()[6]
        == 3
    )
