"""Navigation and self-service (issue 18, item 8): the header's account menu reaches profile,
public page, wallets, verification, notifications and settings from every page; the public
maker page; the local demo faucet (DEBUG only) sends test ETH and TEST to a linked wallet.
At 1280 and 375 px, in English and Bengali; screenshots under var/screenshots/."""

from __future__ import annotations

from decimal import Decimal

import pytest

from .conftest import CHAIN_A, DESKTOP, PHONE, SCREENSHOTS, orm, signed_in_cookie
from .test_pages import SMOKE_CHECK

pytestmark = pytest.mark.slow

PAGES = ["/", "/market/", "/swaps/", "/listings/mine/", "/profile/wallets/", "/accounts/email/"]
MENU = {
    "en": [
        ("Profile and settings", "/profile/"),
        ("My public page", "/u/{id}/"),
        ("Wallets", "/profile/wallets/"),
        ("Identity verification", "/profile/kyc/"),
        ("Notifications", None),
        ("E-mail and password", "/accounts/email/"),
        ("Sign out", None),
    ],
    "bn": [
        ("প্রোফাইল ও সেটিংস", "/profile/"),
        ("আমার পাবলিক পৃষ্ঠা", "/u/{id}/"),
        ("বিজ্ঞপ্তি", None),
    ],
}


def _member() -> dict:
    from accounts.models import Reputation
    from accounts.tests.factories import UserFactory, WalletFactory

    wallet = WalletFactory(user=UserFactory(display_name="Rahima Begum", kyc_level="basic"))
    Reputation.objects.create(user=wallet.user, completed_swaps=12, volume_usd=Decimal("4560"))
    return {"user": wallet.user, "id": wallet.user.pk, "address": wallet.address}


@pytest.fixture
def member(live):
    data = orm(_member)
    data["cookie"] = orm(signed_in_cookie, data["user"], live.url)
    return data


def _context(browser, live, member, viewport, lang):
    context = browser.context(viewport=viewport)
    context.add_cookies([member["cookie"]])
    context.add_cookies([{"name": "django_language", "value": lang, "url": live.url}])
    return context


@pytest.mark.parametrize("lang", ["en", "bn"])
@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_account_menu_reaches_self_service_from_every_page(
    live, browser, member, label, viewport, lang
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = _context(browser, live, member, viewport, lang)
    page = context.new_page()
    for path in PAGES:
        # given
        assert page.goto(f"{live.url}{path}").status == 200
        menu = page.locator("details[data-menu]")
        # when
        menu.locator("summary").click()
        # then: every self-service page is one click away, and the open menu fits the screen
        for name, href in MENU[lang]:
            item = menu.get_by_role("link", name=name, exact=True)
            if name in ("Sign out",):
                item = menu.get_by_role("button", name=name)
            assert item.is_visible(), f"{name} on {path}"
            if href:
                assert item.get_attribute("href") == href.format(id=member["id"])
        assert page.evaluate(SMOKE_CHECK) == [], f"{path} with the menu open"
        box = menu.locator(".menu-list").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        if path == "/market/":
            page.screenshot(path=SCREENSHOTS / f"nav-menu-{lang}-{label}.png")
        # and Escape closes it
        page.keyboard.press("Escape")
        assert menu.get_attribute("open") is None
    # when: a menu link is followed
    page.locator("details[data-menu] summary").click()
    page.locator("details[data-menu]").get_by_role("link", name=MENU[lang][1][0]).click()
    # then
    page.wait_for_url(f"{live.url}/u/{member['id']}/")
    context.close()
    assert browser.console_errors == []


@pytest.mark.parametrize("lang", ["en", "bn"])
@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_public_maker_page(live, browser, member, label, viewport, lang):
    # given
    context = browser.context(viewport=viewport)
    context.add_cookies([{"name": "django_language", "value": lang, "url": live.url}])
    page = context.new_page()
    # when
    response = page.goto(f"{live.url}/u/{member['id']}/")
    page.screenshot(path=SCREENSHOTS / f"maker-{lang}-{label}.png", full_page=True)
    # then
    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == "Rahima Begum"
    done = page.locator("[data-field=completed_swaps]").inner_text()
    assert done == ("12" if lang == "en" else "১২")
    assert page.evaluate(SMOKE_CHECK) == []
    context.close()
    assert browser.console_errors == []


def _bootstrap_local_a() -> None:
    from chains import services
    from chains.selectors import network_get

    services.network_bootstrap(network=network_get("local-a"), test_token=True)


def _token_balance(rpc_url: str, address: str) -> int:
    from web3 import HTTPProvider, Web3

    from chains import compiler
    from chains.models import Asset

    token = Asset.objects.get(network="local-a", symbol="TEST").address
    w3 = Web3(HTTPProvider(rpc_url))
    abi = compiler.compile_contract("TestToken").abi
    return w3.eth.contract(address=token, abi=abi).functions.balanceOf(address).call()


def test_faucet_sends_test_coins_to_a_linked_wallet(live, browser, chains, member, settings):
    # given: DEBUG on (the faucet exists only then), local-a with its test token
    settings.DEBUG = True
    settings.CHAIN_NETWORKS = [n for n in settings.CHAIN_NETWORKS if n["name"] == "local-a"]
    orm(_bootstrap_local_a)
    for lang, label, viewport in (("en", "desktop", DESKTOP), ("bn", "phone", PHONE)):
        context = _context(browser, live, member, viewport, lang)
        page = context.new_page()
        page.goto(f"{live.url}/")
        page.locator("details[data-menu] summary").click()
        faucet_name = "Test coins (faucet)" if lang == "en" else "টেস্ট কয়েন (ফসেট)"
        page.locator("details[data-menu]").get_by_role("link", name=faucet_name).click()
        page.wait_for_url(f"{live.url}/faucet/")
        page.screenshot(path=SCREENSHOTS / f"faucet-{lang}-{label}.png", full_page=True)
        assert page.evaluate(SMOKE_CHECK) == []
        if lang == "en":
            # when
            page.get_by_role("button", name="Send test coins").click()
            page.locator(".message.success").first.wait_for()
            # then
            text = page.locator(".messages").inner_text()
            assert "Sent 1 ETH on local-a." in text and "Sent 1000 TEST on local-a." in text
        context.close()
    rpc = chains[CHAIN_A].rpc_url
    assert orm(_token_balance, rpc, member["address"]) == 1000 * 10**6
    assert browser.console_errors == []


def test_faucet_page_does_not_exist_with_debug_off(live, browser, member):
    # given
    context = _context(browser, live, member, DESKTOP, "en")
    page = context.new_page()
    # when
    response = page.goto(f"{live.url}/faucet/")
    page.locator("details[data-menu] summary").click()
    # then
    assert response is not None and response.status == 404
    assert page.locator("details[data-menu] a[href='/faucet/']").count() == 0
    context.close()
