"""The head follower's process sends the relayer's redeems itself, after the commit, and
hands a failed one to the queue."""

import pytest
from web3 import Web3

from chains import follower, relayer, selectors
from chains.interface import ChainUnavailable
from chains.models import RelayerTx
from chains.tests.support import (
    htlc_address,
    scan_until_idle,
    secret_pair,
    swap_locks,
    two_local_chains,
    user,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chains():
    with two_local_chains(RELAYER_LOCK_FILTER=None) as both:
        yield both


@pytest.fixture
def sender():
    sender = follower.RedeemSender()
    relayer.redeem_sender_set(sender)
    yield sender
    relayer.redeem_sender_set(None)
    sender.close()


@pytest.fixture
def queued(monkeypatch):
    """The tasks queued by the relayer and the sender, instead of sent."""
    found: list[tuple] = []
    record = lambda name, *args: found.append((name, *args))  # noqa: E731
    monkeypatch.setattr(relayer, "enqueue_on_commit", record)
    monkeypatch.setattr(follower, "enqueue_on_commit", record)
    return found


def test_a_revealed_secret_is_relayed_from_the_scanning_process(chains, sender, queued):
    # given: the taker's lock on A and the maker's on B, with one hashlock, both confirmed
    a, b = chains
    preimage, hashlock = secret_pair()
    taker_lock, maker_lock = swap_locks(
        a, b, hashlock=hashlock, taker_amount=3 * 10**17, maker_amount=5 * 10**16
    )
    a.mine(2)
    scan_until_idle("local-a")
    # when: the taker's redeem on B is confirmed and scanned
    data = b.htlc(htlc_address("local-b")).encode_abi(
        "redeem", args=[Web3.to_bytes(hexstr=maker_lock), preimage]
    )
    b.send(user(1), htlc_address("local-b"), data)
    b.mine(2)
    scan_until_idle("local-b")
    sender.close()  # the sends under way finish
    # then: this process sent the redeem on A, nothing went to the queue, and it is mined
    assert queued == []
    tx = RelayerTx.objects.get(network="local-a", lock_id=taker_lock)
    assert tx.action == "redeem"
    a.mine(1)
    relayer.relayer_track(network=selectors.network_get("local-a"))
    tx.refresh_from_db()
    assert tx.status == "mined"
    state = (
        a.htlc(htlc_address("local-a"))
        .functions.getLock(Web3.to_bytes(hexstr=taker_lock))
        .call()[6]
    )
    assert state == 2  # redeemed


def test_a_failed_send_goes_to_the_queue(chains, sender, queued, monkeypatch):
    def unreachable(**_):
        raise ChainUnavailable("local-a: connection refused")

    monkeypatch.setattr(relayer, "relayer_redeem", unreachable)
    # when
    sender.send("local-a", "0x" + "11" * 32, "0x" + "22" * 32)
    # then
    assert queued == [("chains.relay_redeem", "local-a", "0x" + "11" * 32, "0x" + "22" * 32)]
    assert not RelayerTx.objects.exists()
