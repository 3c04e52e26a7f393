"""Sign-In with Ethereum from the sign-in page, with an injected test wallet."""

from __future__ import annotations

import re

import pytest

from accounts.models import SiweNonce, User, Wallet

from .conftest import CHAIN_A, PHONE, SCREENSHOTS, accept_terms_on_first_sign_in, orm
from .wallet import TestWallet

pytestmark = pytest.mark.slow

SIGN_IN = "Sign in with Ethereum"


def _wallet(chains, **kwargs) -> TestWallet:
    return TestWallet.fresh(CHAIN_A, {CHAIN_A: chains[CHAIN_A].rpc_url}, **kwargs)


def _watch_busy(page, name: str) -> None:
    """Record whether the button ever showed its loading state (aria-busy), in
    sessionStorage so that it survives the redirect after signing in."""
    page.evaluate(
        """(name) => {
            const buttons = [...document.querySelectorAll("button")];
            const button = buttons.find((b) => b.textContent.trim() === name);
            sessionStorage.removeItem("busySeen");
            new MutationObserver(() => {
                const busy = button.getAttribute("aria-busy") === "true";
                if (busy) sessionStorage.setItem("busySeen", "yes");
            }).observe(button, { attributes: true });
        }""",
        name,
    )


def _user_with_wallet(address: str) -> User | None:
    wallet = Wallet.objects.select_related("user").filter(address__iexact=address).first()
    return wallet.user if wallet else None


def test_sign_in_with_an_injected_wallet_ends_signed_in(live, browser, chains):
    # given
    wallet = _wallet(chains)
    context = browser.context()
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/?next=/profile/")
    _watch_busy(page, SIGN_IN)
    # when
    page.get_by_role("button", name=SIGN_IN).click()
    accept_terms_on_first_sign_in(page, live, "/profile/")
    # then
    user = orm(_user_with_wallet, wallet.address)
    assert user is not None and user.is_active
    nav = page.get_by_role("navigation", name="Main")
    assert user.get_username() in nav.inner_text()
    assert page.evaluate("sessionStorage.getItem('busySeen')") == "yes"
    assert wallet.methods[-1] == "personal_sign" and "eth_requestAccounts" in wallet.methods
    signed = bytes.fromhex(wallet.calls[-1][1][0][2:]).decode()
    assert signed.startswith(f"127.0.0.1:{live.port} wants you to sign in")
    assert wallet.failures == [] and browser.console_errors == []


def test_sign_in_through_eip6963_lets_the_person_choose_among_wallets(live, browser, chains):
    # given: two wallets announce themselves; neither sets window.ethereum
    first = _wallet(chains, name="First Wallet", legacy=False)
    second = _wallet(chains, name="Second Wallet", legacy=False)
    context = browser.context()
    first.install(context)
    second.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    # when
    page.get_by_role("button", name=SIGN_IN).click()
    chooser = page.get_by_role("group", name="Choose a wallet")
    chooser.get_by_role("button", name="Second Wallet").click()
    accept_terms_on_first_sign_in(page, live, "/")
    # then
    assert orm(_user_with_wallet, second.address) is not None
    assert orm(_user_with_wallet, first.address) is None
    assert first.calls == []


def test_walletconnect_is_offered_beside_injected_wallets_when_the_site_has_a_project_id(
    live, browser, chains
):
    # given: the page carries a WalletConnect project id (base.html sets it when configured)
    wallet = _wallet(chains)
    context = browser.context()
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    page.evaluate("document.body.dataset.walletconnectProjectId = 'test-project'")
    # when
    page.get_by_role("button", name=SIGN_IN).click()
    # then: a choice, nothing asked of any wallet yet
    chooser = page.get_by_role("group", name="Choose a wallet")
    names = chooser.get_by_role("button").all_inner_texts()
    assert names == ["Test Wallet", "WalletConnect (phone wallet)", "Cancel"]
    chooser.get_by_role("button", name="Cancel").click()
    assert "You closed the wallet choice" in page.get_by_role("alert").inner_text()
    assert wallet.calls == []


def test_sign_in_switches_a_wallet_on_an_unsupported_network_first(live, browser, chains):
    # given: the wallet is on a chain this site does not offer
    wallet = TestWallet.fresh(1, {1: chains[CHAIN_A].rpc_url, CHAIN_A: chains[CHAIN_A].rpc_url})
    context = browser.context()
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    # when
    page.get_by_role("button", name=SIGN_IN).click()
    accept_terms_on_first_sign_in(page, live, "/")
    # then
    assert wallet.chain_id == CHAIN_A
    assert ("wallet_switchEthereumChain", [{"chainId": hex(CHAIN_A)}]) in wallet.calls
    assert orm(lambda: Wallet.objects.get(address__iexact=wallet.address).chain_id) == CHAIN_A


def test_without_a_wallet_the_page_says_to_install_one(live, browser):
    # given: no provider at all, on a phone
    page = browser.context(viewport=PHONE).new_page()
    page.goto(f"{live.url}/accounts/login/")
    button = page.get_by_role("button", name=SIGN_IN)
    # when
    button.click()
    # then
    alert = page.get_by_role("alert")
    assert re.search(r"No Ethereum wallet was found.*Install a wallet", alert.inner_text())
    assert button.is_enabled() and button.get_attribute("aria-busy") is None
    assert page.url == f"{live.url}/accounts/login/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "sign-in-no-wallet-phone.png", full_page=True)


def test_declining_the_signature_says_nothing_was_signed(live, browser, chains):
    # given
    wallet = _wallet(chains, reject={"personal_sign"})
    context = browser.context()
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    button = page.get_by_role("button", name=SIGN_IN)
    # when
    button.click()
    # then
    alert = page.get_by_role("alert")
    assert "You declined the request in your wallet. Nothing was signed" in alert.inner_text()
    assert button.is_enabled()
    assert orm(_user_with_wallet, wallet.address) is None
    assert orm(lambda: SiweNonce.objects.filter(used_at__isnull=True).count()) == 1


def test_declining_the_connection_says_so(live, browser, chains):
    # given
    wallet = _wallet(chains, reject={"eth_requestAccounts"})
    context = browser.context()
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    # when
    page.get_by_role("button", name=SIGN_IN).click()
    # then
    assert "You declined the request in your wallet" in page.get_by_role("alert").inner_text()
    assert "personal_sign" not in wallet.methods


def test_an_address_linked_to_another_account_is_refused_with_a_way_out(live, browser, chains):
    # given: the wallet's address belongs to someone else; this person is signed in
    from accounts.tests.factories import UserFactory, WalletFactory

    from .conftest import signed_in_cookie

    wallet = _wallet(chains)
    me = orm(UserFactory)
    orm(WalletFactory, address=wallet.address, chain_id=CHAIN_A)
    context = browser.context()
    context.add_cookies([orm(signed_in_cookie, me, live.url)])
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/profile/wallets/")
    # when
    page.evaluate(LINK, _module_url("js/wallet.js"))
    # then
    assert "already linked to another account" in page.get_by_role("alert").inner_text()
    assert orm(lambda: me.wallets.count()) == 0


def test_linking_a_wallet_adds_it_to_the_signed_in_account(live, browser, chains):
    # given
    from accounts.tests.factories import UserFactory

    from .conftest import signed_in_cookie

    wallet = _wallet(chains)
    me = orm(UserFactory)
    context = browser.context()
    context.add_cookies([orm(signed_in_cookie, me, live.url)])
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/profile/wallets/")
    # when: linkWallet() reloads the page once the address is linked
    with page.expect_navigation():
        page.evaluate(LINK, _module_url("js/wallet.js"))
    # then
    assert wallet.address in page.inner_text("main")
    assert orm(lambda: list(me.wallets.values_list("address", flat=True))) == [wallet.address]


# Runs linkWallet() from wallet.js with a status panel appended to <main>.
LINK = """async (src) => {
    const wallet = await import(src);
    const box = document.createElement("div");
    box.id = "link-status";
    document.querySelector("main").append(box);
    const button = document.createElement("button");
    await wallet.runWithStatus(button, box, (ui) => wallet.linkWallet({ ui }));
}"""


def _module_url(path: str) -> str:
    from django.contrib.staticfiles.storage import staticfiles_storage

    return staticfiles_storage.url(path)
