"""Fair swaps between strangers: what the oracle cannot price is refused apart from what it
halts, a fixed price stays in its band, limits hold on the larger leg, deadlines and
timelocks follow from the chains, and a fault costs only the party at fault."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from chains.models import Asset
from chains.networks import Network
from marketplace.models import Listing
from marketplace.tests.support import publish_prices
from swaps import onchain, services
from swaps.models import Notification, Swap, SwapFault
from swaps.tests.factories import eth_test_listing, make_swap, party
from swaps.tests.flow import scan_all

pytestmark = pytest.mark.django_db(transaction=True)


def _network(name: str, *, confirmations: int, block_time: int) -> Network:
    return Network(name, 1, "http://rpc", "", confirmations, block_time, "", "ETH")


def test_timelocks_fit_the_local_chains_and_a_twelve_second_chain():
    # given: the default step times; a chain like mainnet (12 s blocks, 12 confirmations)
    local = _network("local-a", confirmations=2, block_time=1)
    local_b = _network("local-b", confirmations=2, block_time=1)
    slow = _network("mainnet-like", confirmations=12, block_time=12)
    # then: T1 at most 30 minutes after creation locally, at most 3 hours on the slow chain
    assert onchain.schedule(local, local_b).t1_after_creation <= 30 * 60
    steps = onchain.schedule(slow, slow)
    assert steps.t1_after_creation <= 3 * 3600
    # and the margin is at least four times the slower chain's confirmation time
    assert steps.margin >= 4 * 12 * 12
    # and T2 covers every step before it: the quote window, the taker's lock confirming,
    # the maker's deadline, the maker's lock confirming and the redeem window
    assert steps.t2_after_creation == (
        steps.quote_window
        + steps.expiry_grace
        + steps.quote_confirmations
        + steps.maker_response
        + steps.base_confirmations
        + steps.taker_redeem
        + steps.margin
    )


def test_a_pair_the_oracle_cannot_price_is_refused_apart_from_a_halted_one(swap_env, settings):
    # given: a listing selling ETH for a token the oracle has no price for
    maker, maker_key = party(1)
    taker, taker_key = party(2)
    test_b = Asset.objects.get(network="local-b", symbol="TEST")
    Asset.objects.filter(pk=test_b.pk).update(price_symbol="NOPRICE")
    listing = eth_test_listing(maker, maker_key)
    # when / then
    with pytest.raises(services.SwapError) as refused:
        make_swap(listing=listing)
    assert (refused.value.status_code, refused.value.get_codes()) == (409, "pair_unpriced")
    # given: priced again, but halted by staff
    Asset.objects.filter(pk=test_b.pk).update(price_symbol="")
    from accounts.tests.factories import UserFactory
    from oracle.services import pair_halt

    pair_halt(pair="ETH-TEST", reason="jump", user=UserFactory())
    with pytest.raises(services.SwapError) as halted:
        make_swap(listing=listing)
    assert halted.value.get_codes() == "pair_halted"


def test_a_fixed_price_that_drifted_out_of_band_cannot_be_taken_and_its_maker_is_told(
    swap_env, settings
):
    # given: listed at 2.5 TEST per ETH when the rate was 2.5; then ETH doubles
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key)
    publish_prices(settings, {"TEST-USD": "1.00", "ETH-USD": "5.00"})
    # when: two takes
    codes = []
    for _ in range(2):
        with pytest.raises(Exception) as refused:
            make_swap(listing=listing)
        codes.append((refused.value.status_code, refused.value.get_codes()))
    # then: refused with the band's code, the rate named; the maker told once
    assert codes == [(409, "price_out_of_band")] * 2
    assert "5" in str(refused.value.detail)
    notes = Notification.objects.filter(user=maker, kind="price_out_of_band")
    assert notes.count() == 1 and f"#{listing.pk}" in notes.get().text
    assert Listing.objects.get(pk=listing.pk).remaining == listing.amount


def test_the_kyc_limit_holds_on_the_larger_leg(swap_env, settings):
    # given: 3 TEST per ETH (20 % over the rate, inside the band): 1 ETH is 2.50 USD but
    # its 3 TEST are 3.00 USD; the buyer's limit is 2.75 USD
    settings.KYC_LIMITS_USD = {**settings.KYC_LIMITS_USD, "none": Decimal("2.75")}
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key, price=Decimal("3"))
    # when / then: refused on the quote leg, which the base leg alone would have let pass
    with pytest.raises(services.SwapError) as refused:
        make_swap(listing=listing, amount=Decimal("1"))
    assert refused.value.get_codes() in ("kyc_limit_exceeded", "maker_kyc_limit_exceeded")
    # and a swap within both legs passes, valued at its larger leg
    settings.KYC_LIMITS_USD = {**settings.KYC_LIMITS_USD, "none": Decimal("3.00")}
    swap, *_ = make_swap(listing=listing, amount=Decimal("1"))
    assert swap.value_usd == Decimal("3.00")


def test_a_swap_nobody_locked_is_the_takers_abandonment(swap_env, settings):
    # given: a created swap whose quote window passed
    swap, *_ = make_swap()
    later = swap.quote_expires_at + timedelta(seconds=settings.SWAP_EXPIRY_GRACE_SECONDS + 1)
    # when
    assert services.swaps_expire_due(now=later) == 1
    # then: the taker abandoned it; the maker's record is untouched
    fault = SwapFault.objects.get(swap=swap)
    assert (fault.kind, fault.role) == ("abandoned", "taker")
    swap = Swap.objects.select_related("taker__reputation", "maker__reputation").get(pk=swap.pk)
    assert swap.taker.reputation.abandoned_swaps == 1
    assert swap.maker.reputation.abandoned_swaps == swap.maker.reputation.failed_swaps == 0


def test_faults_reaching_the_count_suspend_for_the_set_hours(swap_env, settings):
    # given: the count is 2; the taker abandons two swaps
    settings.SWAP_FAULT_SUSPEND_COUNT = 2
    settings.SWAP_MAX_UNLOCKED_PER_USER = 5
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key, amount=Decimal("10"))
    first, *_ = make_swap(listing=listing)
    make_swap(listing=listing)
    later = first.quote_expires_at + timedelta(seconds=settings.SWAP_EXPIRY_GRACE_SECONDS + 1)
    assert services.swaps_expire_due(now=later) == 2
    # when: the taker takes again
    with pytest.raises(services.SwapError) as refused:
        make_swap(listing=listing)
    # then: refused as suspended, with the time it ends (24 h after the last fault)
    assert (refused.value.status_code, refused.value.get_codes()) == (403, "suspended")
    ends = SwapFault.objects.order_by("-created_at").first().created_at + timedelta(hours=24)
    assert ends.strftime("%Y-%m-%d %H:%M") in str(refused.value.detail)
    # when the hours pass the suspension ends by itself
    from accounts.models import Reputation

    Reputation.objects.filter(user=first.taker).update(
        suspended_until=timezone.now() - timedelta(seconds=1)
    )
    assert make_swap(listing=listing)[0].state == "created"


def test_the_party_who_must_act_is_reminded_before_the_deadline(swap_env):
    # given: a swap whose taker lock is confirmed (the maker's deadline set)
    swap, _, _, (taker, taker_key) = make_swap()
    _, b = swap_env
    for tx in (onchain.approve_tx(swap, onchain.TAKER), onchain.lock_tx(swap, onchain.TAKER)):
        b.send(taker_key, tx.to, tx.data, tx.value)
    scan_all(swap_env)
    swap.refresh_from_db()
    assert swap.state == "taker_locked"
    deadline = swap.maker_deadline
    # when: the check runs early, then in the last third of the window, twice
    assert services.swaps_deadlines_check(now=deadline - timedelta(seconds=100)) == (0, 0)
    assert services.swaps_deadlines_check(now=deadline - timedelta(seconds=30)) == (1, 0)
    assert services.swaps_deadlines_check(now=deadline - timedelta(seconds=20)) == (0, 0)
    # then: the maker got one reminder naming the deadline
    note = Notification.objects.get(user=swap.maker, kind="maker_deadline_soon")
    assert deadline.strftime("%H:%M") in note.text
