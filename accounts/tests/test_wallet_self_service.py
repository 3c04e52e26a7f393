"""Wallet self-service (issue 18, item 8): unlink a wallet and choose the default one, as a
service, on the wallets page (POST with CSRF) and in the API; the last way to sign in
cannot be removed."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.utils import timezone

from accounts import selectors, services
from accounts.models import AuditEvent, Wallet
from accounts.tests.factories import UserFactory, WalletFactory
from core.api.errors import ApiError

pytestmark = pytest.mark.django_db


def _wallet_only_user(wallets: int = 1):
    user = UserFactory(email="")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user, [WalletFactory(user=user) for _ in range(wallets)]


def _refused(call, code: str) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call()
    assert raised.value.detail.code == code  # type: ignore[union-attr]
    return raised.value


def test_wallet_unlink_removes_the_wallet_and_audits_it():
    # given
    user, (kept, gone) = _wallet_only_user(2)
    # when: any letter case names the address
    services.wallet_unlink(user=user, address=gone.address.lower(), ip="203.0.113.5")
    # then
    assert list(Wallet.objects.filter(user=user)) == [kept]
    event = AuditEvent.objects.get(user=user, event="wallet_unlinked")
    assert event.detail == {"address": gone.address} and event.ip == "203.0.113.5"


def test_wallet_unlink_of_the_only_sign_in_method_is_refused():
    # given: a wallet-only account with one wallet
    user, (wallet,) = _wallet_only_user()
    # when / then
    error = _refused(
        lambda: services.wallet_unlink(user=user, address=wallet.address), "last_sign_in_method"
    )
    assert error.status_code == 409
    assert Wallet.objects.filter(pk=wallet.pk).exists()
    assert not AuditEvent.objects.filter(event="wallet_unlinked").exists()


def test_wallet_unlink_of_the_last_wallet_is_allowed_with_a_confirmed_email_and_password():
    # given
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    wallet = WalletFactory(user=user)
    # when
    services.wallet_unlink(user=user, address=wallet.address)
    # then
    assert not Wallet.objects.filter(user=user).exists()


def test_wallet_unlink_does_not_count_an_unconfirmed_email_as_a_way_in():
    # given: a password, but the address was never confirmed (verification is mandatory)
    user = UserFactory(email="ada@example.com")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    wallet = WalletFactory(user=user)
    # when / then
    _refused(
        lambda: services.wallet_unlink(user=user, address=wallet.address), "last_sign_in_method"
    )


def test_wallet_unlink_counts_a_proven_icp_principal_but_not_a_claimed_one():
    # given
    user, (wallet,) = _wallet_only_user()
    user.icp_principal = "2vxsx-fae"
    user.save(update_fields=["icp_principal"])
    # then: a claim typed in is no way to sign in
    assert selectors.sign_in_method_count(user=user) == 1
    _refused(
        lambda: services.wallet_unlink(user=user, address=wallet.address), "last_sign_in_method"
    )
    # when: proven with Internet Identity
    user.icp_principal_proven_at = timezone.now()
    user.save(update_fields=["icp_principal_proven_at"])
    services.wallet_unlink(user=user, address=wallet.address)
    # then
    assert not Wallet.objects.filter(user=user).exists()


def test_wallet_unlink_of_another_users_wallet_is_refused():
    # given
    user, _ = _wallet_only_user(2)
    stranger = WalletFactory()
    # when / then
    error = _refused(
        lambda: services.wallet_unlink(user=user, address=stranger.address), "wallet_not_found"
    )
    assert error.status_code == 404
    assert Wallet.objects.filter(pk=stranger.pk).exists()


def test_wallet_default_set_lists_it_first_and_keeps_one_default():
    # given: oldest first while none is chosen
    user, (first, second, third) = _wallet_only_user(3)
    assert list(selectors.wallet_list(user=user)) == [first, second, third]
    # when
    services.wallet_default_set(user=user, address=third.address)
    services.wallet_default_set(user=user, address=second.address)
    # then
    assert list(selectors.wallet_list(user=user)) == [second, first, third]
    assert list(Wallet.objects.filter(is_default=True)) == [second]


def test_wallet_default_set_of_another_users_wallet_is_refused():
    # given
    user, _ = _wallet_only_user()
    stranger = WalletFactory()
    # when / then
    _refused(
        lambda: services.wallet_default_set(user=user, address=stranger.address),
        "wallet_not_found",
    )
    assert not Wallet.objects.filter(is_default=True).exists()


# The wallets page


def _page_client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_wallets_page_unlinks_by_post_and_says_so():
    # given
    user, (kept, gone) = _wallet_only_user(2)
    client = _page_client(user)
    # when
    response = client.post(
        "/profile/wallets/unlink/", {"address": gone.address}, follow=True, HTTP_HOST="testserver"
    )
    # then
    assert response.redirect_chain[-1][0] == "/profile/wallets/"
    assert f"{gone.address} was unlinked." in response.content.decode()
    assert list(Wallet.objects.filter(user=user)) == [kept]


def test_wallets_page_shows_the_refusal_of_the_last_sign_in_method():
    # given
    user, (wallet,) = _wallet_only_user()
    client = _page_client(user)
    # when
    response = client.post("/profile/wallets/unlink/", {"address": wallet.address}, follow=True)
    # then
    assert "This wallet is the only way you can sign in" in response.content.decode()
    assert Wallet.objects.filter(pk=wallet.pk).exists()


def test_wallets_page_actions_need_post_and_a_csrf_token():
    # given
    user, (first, second) = _wallet_only_user(2)
    client = _page_client(user, enforce_csrf_checks=True)
    # when
    by_get = client.get("/profile/wallets/unlink/", {"address": second.address})
    without_token = client.post("/profile/wallets/unlink/", {"address": second.address})
    default_without_token = client.post("/profile/wallets/default/", {"address": second.address})
    # then
    assert by_get.status_code == 405
    assert without_token.status_code == 403 and default_without_token.status_code == 403
    assert Wallet.objects.filter(user=user).count() == 2
    assert not Wallet.objects.filter(is_default=True).exists()


def test_wallets_page_marks_the_default_and_offers_to_change_it():
    # given
    user, (first, second) = _wallet_only_user(2)
    client = _page_client(user)
    # when
    client.post("/profile/wallets/default/", {"address": second.address})
    html = client.get("/profile/wallets/").content.decode()
    # then: the default is listed first with its badge; the other offers "Make default"
    assert html.index(second.address) < html.index(first.address)
    assert html.count("data-default-wallet") == 1
    assert html.count("Make default") == 1
    assert html.count('name="csrfmiddlewaretoken"') >= 3


def test_wallets_pages_need_a_signed_in_user(client):
    # given
    wallet = WalletFactory()
    # when
    response = client.post("/profile/wallets/unlink/", {"address": wallet.address})
    # then
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Wallet.objects.filter(pk=wallet.pk).exists()


# The API


def test_api_unlinks_a_wallet(api):
    # given
    user, (kept, gone) = _wallet_only_user(2)
    api.force_authenticate(user)
    # when
    response = api.delete(f"/api/v1/me/wallets/{gone.address}")
    # then
    assert response.status_code == 204
    assert list(Wallet.objects.filter(user=user)) == [kept]


def test_api_refuses_to_unlink_the_last_sign_in_method_with_its_code(api):
    # given
    user, (wallet,) = _wallet_only_user()
    api.force_authenticate(user)
    # when
    response = api.delete(f"/api/v1/me/wallets/{wallet.address}")
    # then
    assert response.status_code == 409
    assert response.json()["code"] == "last_sign_in_method"


def test_api_sets_the_default_wallet_and_lists_it_first(api):
    # given
    user, (first, second) = _wallet_only_user(2)
    api.force_authenticate(user)
    # when
    response = api.post(f"/api/v1/me/wallets/{second.address.lower()}/default")
    # then
    assert response.status_code == 200
    assert response.json()["address"] == second.address and response.json()["is_default"]
    listed = api.get("/api/v1/me/wallets").json()["results"]
    assert [w["address"] for w in listed] == [second.address, first.address]
    assert [w["is_default"] for w in listed] == [True, False]


def test_api_wallet_operations_refuse_another_users_wallet(api):
    # given
    user, _ = _wallet_only_user(2)
    stranger = WalletFactory()
    api.force_authenticate(user)
    # when
    unlink = api.delete(f"/api/v1/me/wallets/{stranger.address}")
    default = api.post(f"/api/v1/me/wallets/{stranger.address}/default")
    # then
    assert unlink.status_code == 404 and unlink.json()["code"] == "wallet_not_found"
    assert default.status_code == 404 and default.json()["code"] == "wallet_not_found"


def test_api_wallet_operations_need_authentication(api):
    # given
    wallet = WalletFactory()
    # when
    response = api.delete(f"/api/v1/me/wallets/{wallet.address}")
    # then
    assert response.status_code == 401
