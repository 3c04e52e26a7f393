"""End to end on two real anvil chains: SIWE sign-in, take, lock, lock, redeem, relay.

Every transaction a user sends is the server's `next_action`, signed by the user's
eth-account key and sent to anvil; every state change comes from the real watcher
reading confirmed blocks; the relayer really redeems. Balances are checked to the wei.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from chains import compiler, relayer
from chains import selectors as chain_selectors
from chains.keys import account_for
from chains.tests.support import gas_cost
from marketplace.models import Listing
from swaps import services
from swaps.models import Notification, Swap, SwapFault
from swaps.tests.flow import detail, redeem, scan_all, send, take, token

pytestmark = pytest.mark.django_db(transaction=True)


def test_swap_completes_on_two_chains_with_exact_balances(swap_env):
    # given: the maker sells ETH on local-a for TEST on local-b; the taker takes 1.5 ETH
    a, b = swap_env
    swap, secret, (maker_api, maker_key), (taker_api, taker_key), listing = take(swap_env)
    assert swap["state"] == "created"
    assert swap["quote_amount"] == "3.750000"  # 1.5 x 2.5, with TEST's 6 decimals
    test_b = token(b, "local-b")
    maker_eth, taker_eth = (
        a.w3.eth.get_balance(maker_key.address),
        a.w3.eth.get_balance(taker_key.address),
    )
    maker_test, taker_test = (
        test_b.functions.balanceOf(maker_key.address).call(),
        test_b.functions.balanceOf(taker_key.address).call(),
    )
    relayer_b = account_for(role="RELAYER", network="local-b").address
    relayer_test = test_b.functions.balanceOf(relayer_b).call()

    # when: the taker approves and locks TEST on local-b, as next_action says
    step = swap["next_action"]
    assert step["action"] == "approve"
    send(b, taker_key, step)
    step = detail(taker_api, swap["id"])["next_action"]
    assert step["action"] == "lock"
    send(b, taker_key, step)
    scan_all(swap_env)

    # then: the maker is told to lock ETH on local-a
    assert detail(taker_api, swap["id"])["state"] == "taker_locked"
    step = detail(maker_api, swap["id"])["next_action"]
    assert step["action"] == "lock" and step["network"] == "local-a"
    maker_lock = send(a, maker_key, step)
    scan_all(swap_env)
    view = detail(taker_api, swap["id"])
    assert view["state"] == "maker_locked"

    # when: the taker redeems the maker's lock with the secret, encoding the call itself
    step = view["next_action"]
    assert step["action"] == "redeem" and step["function"] == "redeem" and "data" not in step
    taker_redeem = redeem(a, taker_key, step, secret)
    # the watcher reads local-a first and sees the secret; the relayer redeems on local-b
    # at once (on commit), and the same pass then reads local-b
    scan_all(swap_env)

    # then: completed, and every balance moved by exactly the swap's amounts (plus own gas)
    final = detail(maker_api, swap["id"])
    assert final["state"] == "completed"
    assert [e["to_state"] for e in final["history"]] == [
        "created",
        "taker_locked",
        "maker_locked",
        "secret_revealed",
        "completed",
    ]
    assert all(e["tx_hash"] and e["block"] for e in final["history"][1:])
    assert a.w3.eth.get_balance(taker_key.address) == taker_eth + 15 * 10**17 - gas_cost(
        taker_redeem
    )
    assert a.w3.eth.get_balance(maker_key.address) == maker_eth - 15 * 10**17 - gas_cost(maker_lock)
    assert test_b.functions.balanceOf(maker_key.address).call() == maker_test + 3_750_000
    assert test_b.functions.balanceOf(taker_key.address).call() == taker_test - 3_750_000
    assert test_b.functions.balanceOf(relayer_b).call() == relayer_test  # gas only, no funds
    listing.refresh_from_db()
    assert listing.remaining == Decimal("1.5")
    done = Swap.objects.select_related("maker__reputation", "taker__reputation").get(pk=swap["id"])
    assert done.preimage == secret
    # reputation is recomputed from the swap records: one completed swap of 1.5 x 2.50 USD
    for party in (done.maker, done.taker):
        assert (party.reputation.completed_swaps, party.reputation.volume_usd) == (
            1,
            Decimal("3.75"),
        )


def test_maker_never_locks_taker_is_refunded_by_the_relayer(swap_env):
    # given: the taker locked, the maker never does
    a, b = swap_env
    swap, _secret, (maker_api, _), (taker_api, taker_key), listing = take(swap_env, amount="1")
    send(b, taker_key, swap["next_action"])  # approve
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])  # lock
    scan_all(swap_env)
    test_b = token(b, "local-b")
    before = test_b.functions.balanceOf(taker_key.address).call()
    view = detail(taker_api, swap["id"])
    assert view["state"] == "taker_locked"

    # when: the maker's deadline passes (the periodic check runs)
    swap_row = Swap.objects.get(pk=swap["id"])
    assert swap_row.maker_deadline is not None
    assert services.swaps_deadlines_check(now=swap_row.maker_deadline + timedelta(seconds=1)) == (
        0,
        1,
    )
    # then: the maker is at fault, in the history and in their record only; their listings
    # are paused; both are told
    view = detail(taker_api, swap["id"])
    fault = view["history"][-1]
    assert (fault["cause"], fault["party"]) == ("fault:maker_missed_deadline", "maker")
    assert SwapFault.objects.get(swap_id=swap["id"]).role == "maker"
    listing.refresh_from_db()
    assert listing.state == Listing.State.PAUSED
    assert Notification.objects.filter(user=listing.maker, kind="deadline_missed").exists()
    assert (
        Notification.objects.filter(swap_id=swap["id"], kind="other_missed_deadline")
        .exclude(user=listing.maker)
        .exists()
    )

    # when: T1 passes on the quote chain and the relayer runs
    b.travel(view["taker_timelock"] - b.now() + 1)
    network_b = chain_selectors.network_get("local-b")
    for lock_id in relayer.expired_lock_ids(network=network_b):
        relayer.relayer_refund(network=network_b, lock_id=lock_id)
    scan_all(swap_env)

    # then: refunded to the wei (the relayer paid the gas), the listing gets its amount back
    view = detail(taker_api, swap["id"])
    assert view["state"] == "refunded"
    assert view["history"][-1]["cause"] == "taker_lock_refunded"
    assert test_b.functions.balanceOf(taker_key.address).call() == before + 2_500_000
    listing.refresh_from_db()
    assert listing.remaining == listing.amount
    # nothing counts against the taker; the refund counts against the maker
    done = Swap.objects.select_related("maker__reputation", "taker__reputation").get(pk=swap["id"])
    taker_record, maker_record = done.taker.reputation, done.maker.reputation
    assert (taker_record.failed_swaps, taker_record.refunded_swaps) == (0, 0)
    assert (maker_record.failed_swaps, maker_record.refunded_swaps) == (1, 1)


def test_taker_never_redeems_both_locks_are_refunded(swap_env):
    # given: both parties locked; the taker never redeems
    a, b = swap_env
    swap, _secret, (maker_api, maker_key), (taker_api, taker_key), listing = take(
        swap_env, amount="1"
    )
    send(b, taker_key, swap["next_action"])
    send(b, taker_key, detail(taker_api, swap["id"])["next_action"])
    scan_all(swap_env)
    send(a, maker_key, detail(maker_api, swap["id"])["next_action"])
    scan_all(swap_env)
    view = detail(maker_api, swap["id"])
    assert view["state"] == "maker_locked"
    maker_eth = a.w3.eth.get_balance(maker_key.address)
    test_b = token(b, "local-b")
    taker_test = test_b.functions.balanceOf(taker_key.address).call()
    assert view["taker_redeem_deadline"] is not None

    # when: the taker's redeem deadline passes
    swap_row = Swap.objects.get(pk=swap["id"])
    services.swaps_deadlines_check(now=swap_row.taker_redeem_deadline + timedelta(seconds=1))
    # then: the taker is at fault; the maker's listings stay as they were
    assert detail(maker_api, swap["id"])["history"][-1]["party"] == "taker"
    assert SwapFault.objects.get(swap_id=swap["id"]).kind == "taker_missed_redeem"
    listing.refresh_from_db()
    assert listing.state == Listing.State.ACTIVE

    # when: T2 passes on the base chain, then T1 on the quote chain; the relayer refunds
    a.travel(view["maker_timelock"] - a.now() + 1)
    b.travel(view["taker_timelock"] - b.now() + 1)
    for network in chain_selectors.network_list():
        for lock_id in relayer.expired_lock_ids(network=network):
            relayer.relayer_refund(network=network, lock_id=lock_id)
    scan_all(swap_env)

    # then: each side has its own coins back, to the wei (the relayer paid the gas)
    view = detail(maker_api, swap["id"])
    assert view["state"] == "refunded"
    assert view["next_action"]["action"] == "none"
    assert a.w3.eth.get_balance(maker_key.address) == maker_eth + 10**18
    assert test_b.functions.balanceOf(taker_key.address).call() == taker_test + 2_500_000
    listing.refresh_from_db()
    assert listing.remaining == listing.amount
    done = Swap.objects.select_related("maker__reputation", "taker__reputation").get(pk=swap["id"])
    assert (done.taker.reputation.failed_swaps, done.taker.reputation.refunded_swaps) == (1, 1)
    assert (done.maker.reputation.failed_swaps, done.maker.reputation.refunded_swaps) == (0, 0)


def test_eth_on_one_network_for_eth_on_another_completes_with_exact_balances(swap_env):
    # given: the maker sells ETH on local-a for ETH on local-b at 1:1 (one price symbol)
    a, b = swap_env
    swap, secret, (maker_api, maker_key), (taker_api, taker_key), listing = take(
        swap_env, amount="1.5", quote=("local-b", "ETH"), price="1"
    )
    assert (swap["quote_amount"], swap["price"]) == ("1.500000000000000000", "1")

    def eth(chain, key) -> int:
        return chain.w3.eth.get_balance(key.address)

    before = {
        (c, who): eth(chain, key)
        for c, chain in (("a", a), ("b", b))
        for who, key in (("maker", maker_key), ("taker", taker_key))
    }
    # when: the taker locks native ETH on local-b (no approve), the maker on local-a
    step = swap["next_action"]
    assert (step["action"], step["network"], step["value"]) == ("lock", "local-b", str(15 * 10**17))
    taker_lock = send(b, taker_key, step)
    scan_all(swap_env)
    maker_lock = send(a, maker_key, detail(maker_api, swap["id"])["next_action"])
    scan_all(swap_env)
    taker_redeem = redeem(a, taker_key, detail(taker_api, swap["id"])["next_action"], secret)
    scan_all(swap_env)
    # then: completed; 1.5 ETH moved each way, to the wei, each paying only their own gas
    assert detail(maker_api, swap["id"])["state"] == "completed"
    amount = 15 * 10**17
    assert eth(a, taker_key) == before["a", "taker"] + amount - gas_cost(taker_redeem)
    assert eth(a, maker_key) == before["a", "maker"] - amount - gas_cost(maker_lock)
    assert eth(b, taker_key) == before["b", "taker"] - amount - gas_cost(taker_lock)
    assert eth(b, maker_key) == before["b", "maker"] + amount  # the relayer paid the redeem


def test_a_lock_off_the_terms_flags_the_swap_and_is_never_counted(swap_env):
    # given: the taker locks one unit less than the agreed quote amount
    a, b = swap_env
    swap, _secret, (maker_api, _), (taker_api, taker_key), listing = take(swap_env, amount="1")
    send(b, taker_key, swap["next_action"])  # approve
    step = detail(taker_api, swap["id"])["next_action"]
    htlc = b.w3.eth.contract(address=step["to"], abi=compiler.compile_contract("HTLC").abi)
    quote_token = token(b, "local-b").address
    data = htlc.encode_abi(
        "lockToken",
        args=[
            quote_token,
            swap["maker_payout_address"],
            2_500_000 - 1,
            bytes.fromhex(swap["hashlock"][2:]),
            swap["taker_timelock"],
        ],
    )
    b.send(taker_key, step["to"], data)
    scan_all(swap_env)

    # then: flagged with the reason; the maker is never told to lock; the amount is released
    view = detail(maker_api, swap["id"])
    assert view["state"] == "flagged" and view["flag_reason"] == "taker_lock_amount"
    assert view["taker_lock_id"] == ""
    assert view["next_action"]["action"] == "none"
    listing.refresh_from_db()
    assert listing.remaining == listing.amount
    assert view["history"][-1]["cause"] == "fault:bad_lock"
    assert view["history"][-1]["party"] == "taker"
