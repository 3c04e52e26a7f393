"""The swaps API: creation refusals, object permissions, cancel, disputes, next_action."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chains.tests.support import user as dev_account
from marketplace.models import Listing
from oracle.services import pair_halt
from swaps import services
from swaps.models import Notification, Swap
from swaps.tests.factories import eth_test_listing, make_swap, party, secret_pair

pytestmark = pytest.mark.django_db


def post_swap(api, listing, *, amount="1", hashlock=None, address=None):
    return api.post(
        "/api/v1/swaps/",
        {
            "listing": listing.pk,
            "amount": amount,
            "hashlock": hashlock or secret_pair()[1],
            "taker_address": address or dev_account(2).address,
        },
        format="json",
    )


def test_swap_create_fixes_terms_and_reserves_the_listing(taker_api, listing):
    # when
    response = post_swap(taker_api, listing, amount="1.25")
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["state"] == "created" and body["role"] == "taker"
    assert body["amount"] == "1.250000000000000000"
    assert body["quote_amount"] == "3.125000"
    # T1 - T2 is the margin: the local chains' floor (300 s), above 4 x their confirmations
    assert body["taker_timelock"] - body["maker_timelock"] == 300
    assert body["maker_deadline"] is None and body["taker_redeem_deadline"] is None
    assert body["next_action"]["action"] == "approve"  # TEST needs an allowance first
    assert body["next_action"]["network"] == "local-b"
    listing.refresh_from_db()
    assert listing.remaining == Decimal("1.75")
    assert Notification.objects.filter(user=listing.maker, kind="taken").exists()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"hashlock": "0x1234"}, 400, "invalid_hashlock"),
        ({"amount": "abc"}, 400, "invalid_amount"),
        ({"amount": "-1"}, 400, "invalid_amount"),
        ({"amount": "0.1"}, 400, "amount_below_minimum"),
        ({"amount": "2.5"}, 400, "amount_above_maximum"),
        ({"amount": "1.0000000000000000001"}, 400, "too_many_decimals"),
        ({"address": "0x" + "1" * 40}, 400, "address_not_linked"),
        ({"address": "nope"}, 400, "invalid_address"),
    ],
)
def test_swap_create_refuses_bad_input_with_a_code(taker_api, listing, change, status, code):
    response = post_swap(taker_api, listing, **change)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert Swap.objects.count() == 0


def test_swap_create_refuses_a_reused_hashlock(taker_api, listing):
    _, hashlock = secret_pair()
    assert post_swap(taker_api, listing, hashlock=hashlock).status_code == 201
    again = post_swap(taker_api, listing, hashlock=hashlock)
    assert (again.status_code, again.json()["code"]) == (400, "hashlock_reused")


def test_swap_create_refuses_own_listing(api, swap_env):
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key)
    api.force_authenticate(maker)
    response = post_swap(api, listing, address=maker_key.address)
    assert response.json()["code"] == "own_listing"


def test_swap_create_refused_while_the_oracle_halts_the_pair(taker_api, listing, admin_user):
    pair_halt(pair="ETH-USD", reason="feed checks", user=admin_user)
    response = post_swap(taker_api, listing)
    assert (response.status_code, response.json()["code"]) == (409, "pair_halted")


def test_swap_create_enforces_the_kyc_limit(taker_api, listing, settings):
    settings.KYC_LIMITS_USD = {
        "none": Decimal("2"),
        "basic": Decimal("10"),
        "verified": Decimal("10"),
    }
    response = post_swap(taker_api, listing, amount="1")  # 1 ETH = 2.50 USD here
    assert (response.status_code, response.json()["code"]) == (403, "kyc_limit_exceeded")


def test_swap_create_caps_open_swaps_per_user(taker_api, listing, settings):
    settings.SWAP_MAX_OPEN_PER_USER = 1
    assert post_swap(taker_api, listing).status_code == 201
    response = post_swap(taker_api, listing)
    assert (response.status_code, response.json()["code"]) == (429, "too_many_open_swaps")


def test_another_users_swap_is_a_404_everywhere(api, swap_env):
    swap, *_ = make_swap()
    stranger, _ = party(3)
    api.force_authenticate(stranger)
    assert api.get(f"/api/v1/swaps/{swap.pk}/").status_code == 404
    assert api.post(f"/api/v1/swaps/{swap.pk}/cancel").status_code == 404
    assert api.post(f"/api/v1/swaps/{swap.pk}/dispute", {"message": "x"}).status_code == 404
    assert api.get("/api/v1/swaps/").json()["results"] == []


def test_unauthenticated_is_401(api, swap_env):
    assert api.get("/api/v1/swaps/").status_code == 401


def test_taker_cancels_before_any_lock_and_the_listing_gets_its_amount_back(api, swap_env):
    swap, _, (maker, _), (taker, _) = make_swap(amount=Decimal("2"))
    api.force_authenticate(maker)
    refused = api.post(f"/api/v1/swaps/{swap.pk}/cancel")
    assert (refused.status_code, refused.json()["code"]) == (403, "only_taker_can_cancel")
    api.force_authenticate(taker)
    response = api.post(f"/api/v1/swaps/{swap.pk}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    assert Listing.objects.get(pk=swap.listing_id).remaining == Decimal("3")
    again = api.post(f"/api/v1/swaps/{swap.pk}/cancel")
    assert (again.status_code, again.json()["code"]) == (409, "not_cancellable")


def test_cancel_is_refused_when_the_takers_lock_is_on_chain_unconfirmed(api, swap_env):
    # given: the taker sent approve and lock, but the watcher has not confirmed them
    a, b = swap_env
    swap, _, _, (taker, taker_key) = make_swap()
    api.force_authenticate(taker)
    for _ in range(2):
        step = api.get(f"/api/v1/swaps/{swap.pk}/").json()["next_action"]
        b.send(taker_key, step["to"], step["data"], int(step["value"]))
    # when / then
    response = api.post(f"/api/v1/swaps/{swap.pk}/cancel")
    assert (response.status_code, response.json()["code"]) == (409, "lock_exists")


def test_dispute_messages_and_staff_resolution_count_in_reputation(api, swap_env, admin_user):
    swap, _, (maker, _), (taker, _) = make_swap()
    api.force_authenticate(taker)
    empty = api.post(f"/api/v1/swaps/{swap.pk}/dispute", {"message": "  "}, format="json")
    assert empty.status_code == 400
    response = api.post(
        f"/api/v1/swaps/{swap.pk}/dispute", {"message": "The seller never locked."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["dispute"]["messages"][0]["body"] == "The seller never locked."
    services.dispute_resolve(
        dispute=swap.dispute, staff=admin_user, outcome="maker_at_fault", resolution="No lock."
    )
    maker.reputation.refresh_from_db()
    assert maker.reputation.disputes_lost == 1
    taker.reputation.refresh_from_db()
    assert taker.reputation.disputes_opened == 1


def test_swap_list_has_no_n_plus_one(api, swap_env, settings):
    settings.SWAP_MAX_UNLOCKED_PER_USER = 10  # four swaps nobody locked, by one taker
    maker, maker_key = party(1)
    listing = eth_test_listing(maker, maker_key, amount=Decimal("10"))
    taker, _ = party(2)
    for _ in range(3):
        make_swap(listing=listing)
    api.force_authenticate(taker)
    with CaptureQueriesContext(connection) as three:
        assert len(api.get("/api/v1/swaps/").json()["results"]) == 3
    make_swap(listing=listing)
    with CaptureQueriesContext(connection) as four:
        assert len(api.get("/api/v1/swaps/").json()["results"]) == 4
    assert len(four) == len(three)


def test_admin_monitor_lists_swaps_and_metrics_count_them(client, admin_user, swap_env):
    swap, *_ = make_swap()
    client.force_login(admin_user)
    page = client.get("/admin/swaps/swap/")
    assert page.status_code == 200 and str(swap.pk) in page.content.decode()
    assert client.get(f"/admin/swaps/swap/{swap.pk}/change/").status_code == 200
    metrics = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'swaps{state="created"} 1.0' in metrics
    assert "swap_taker_lock_to_completion_seconds_count 0.0" in metrics


def test_a_swap_nobody_locked_for_expires_and_releases_the_listing(swap_env, settings):
    swap, *_ = make_swap(amount=Decimal("2"))
    later = swap.quote_expires_at + timedelta(seconds=settings.SWAP_EXPIRY_GRACE_SECONDS + 1)
    assert services.swaps_expire_due(now=swap.quote_expires_at) == 0  # still in grace
    assert services.swaps_expire_due(now=later) == 1
    swap.refresh_from_db()
    assert swap.state == "expired"
    assert Listing.objects.get(pk=swap.listing_id).remaining == Decimal("3")
    assert services.swaps_expire_due(now=later) == 0  # idempotent


def _confirmed(user) -> None:
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


def test_parties_with_an_address_get_each_step_by_mail(swap_env, mailoutbox):
    # given: the maker has a confirmed e-mail address
    swap, *_ = make_swap()
    _confirmed(swap.maker)
    # when: the taker's e-mail task runs for the maker's "taken" notice (eager in tests)
    note = Notification.objects.get(user=swap.maker, kind="taken")
    from swaps.tasks import send_notification_email

    send_notification_email(note.pk)
    send_notification_email(note.pk)  # a retry sends nothing more
    # then
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [swap.maker.email]
    assert f"/swaps/{swap.pk}/" in mailoutbox[0].body


def test_next_action_waits_while_the_sent_lock_is_unconfirmed(api, swap_env):
    # given: approve and lock sent, the watcher has not run
    a, b = swap_env
    swap, _, _, (taker, taker_key) = make_swap()
    api.force_authenticate(taker)
    for expected in ("approve", "lock"):
        step = api.get(f"/api/v1/swaps/{swap.pk}/").json()["next_action"]
        assert step["action"] == expected
        b.send(taker_key, step["to"], step["data"], int(step["value"]))
    # when / then: neither approve nor lock is offered again
    step = api.get(f"/api/v1/swaps/{swap.pk}/").json()["next_action"]
    assert (step["action"], step["reason"]) == ("wait", "lock_confirming")


def test_notification_mail_is_in_the_readers_language(swap_env, mailoutbox):
    swap, *_ = make_swap()
    _confirmed(swap.maker)
    swap.maker.preferred_language = "bn"
    swap.maker.save(update_fields=["preferred_language"])
    from swaps.tasks import send_notification_email

    send_notification_email(Notification.objects.get(user=swap.maker, kind="taken").pk)
    assert "আপনার লিস্টিং নেওয়া হয়েছে" in mailoutbox[0].subject


def test_a_network_without_the_contract_means_wait_never_a_500(api, swap_env):
    from chains.models import Deployment

    swap, _, _, (taker, _) = make_swap()
    Deployment.objects.filter(network="local-b", contract="HTLC").update(active=False)
    api.force_authenticate(taker)
    step = api.get(f"/api/v1/swaps/{swap.pk}/").json()["next_action"]
    assert (step["action"], step["reason"]) == ("wait", "chain_unavailable")
    response = api.post(f"/api/v1/swaps/{swap.pk}/cancel")
    assert (response.status_code, response.json()["code"]) == (503, "chain_unavailable")
