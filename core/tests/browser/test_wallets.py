"""Wallet self-service and the profile's language on sign-in (issue 18, item 8), in Chromium
at 1280 and 375 px, in English and Bengali; screenshots under var/screenshots/."""

from __future__ import annotations

import pytest

from .conftest import DESKTOP, PHONE, SCREENSHOTS, orm, signed_in_cookie
from .test_pages import SMOKE_CHECK

pytestmark = pytest.mark.slow

LAST_METHOD = {
    "en": "This wallet is the only way you can sign in",
    "bn": "এই ওয়ালেটটিই আপনার সাইন ইন করার একমাত্র উপায়",
}


def _wallet_only_member() -> dict:
    from accounts.tests.factories import UserFactory, WalletFactory

    user = UserFactory(email="", display_name="Rahima Begum")
    user.set_unusable_password()
    user.save(update_fields=["password"])
    first, second = WalletFactory(user=user), WalletFactory(user=user)
    return {"user": user, "first": first.address, "second": second.address}


def _addresses(user) -> list[tuple[str, bool]]:
    from accounts.selectors import wallet_list

    return [(w.address, w.is_default) for w in wallet_list(user=user)]


@pytest.mark.parametrize("lang", ["en", "bn"])
@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_wallets_page_sets_the_default_and_unlinks_down_to_the_last_sign_in_method(
    live, browser, label, viewport, lang
):
    # given: a wallet-only account with two wallets
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    member = orm(_wallet_only_member)
    context = browser.context(viewport=viewport)
    context.add_cookies([orm(signed_in_cookie, member["user"], live.url)])
    context.add_cookies([{"name": "django_language", "value": lang, "url": live.url}])
    page = context.new_page()
    page.goto(f"{live.url}/profile/wallets/")
    second = page.locator("section.wallet", has_text=member["second"])
    # when: the second wallet becomes the default
    second.locator(".wallet-actions button:not(.danger)").click()
    page.wait_for_load_state()
    # then: it is listed first, with the badge
    first_section = page.locator("section.wallet").first
    assert member["second"] in first_section.locator("h2").inner_text()
    assert first_section.locator("[data-default-wallet]").is_visible()
    assert orm(_addresses, member["user"]) == [(member["second"], True), (member["first"], False)]
    assert page.evaluate(SMOKE_CHECK) == []
    page.screenshot(path=SCREENSHOTS / f"wallets-{lang}-{label}.png", full_page=True)
    # and the actions fit the screen
    for button in page.locator(".wallet-actions button").all():
        box = button.bounding_box()
        assert box is not None and box["x"] + box["width"] <= viewport["width"]
    # when: the old wallet is unlinked
    page.locator("section.wallet", has_text=member["first"]).locator("button.danger").click()
    page.wait_for_load_state()
    # then
    assert page.locator("section.wallet").count() == 1
    assert page.locator(".messages .success").is_visible()
    # when: the last wallet, the only way in, is unlinked
    page.locator("section.wallet button.danger").click()
    page.wait_for_load_state()
    # then: refused, said beside the wallet list, and the wallet stays
    assert page.locator(".messages .error").is_visible()
    assert LAST_METHOD[lang] in page.locator(".messages").inner_text()
    assert orm(_addresses, member["user"]) == [(member["second"], True)]
    page.screenshot(path=SCREENSHOTS / f"wallets-last-method-{lang}-{label}.png", full_page=True)
    context.close()
    assert browser.console_errors == []


def _email_member(language: str):
    from allauth.account.models import EmailAddress

    from accounts.tests.factories import UserFactory

    user = UserFactory(email="ada@example.com", preferred_language=language)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_email_sign_in_switches_the_site_to_the_profiles_language(live, browser, label, viewport):
    # given: a Bengali profile, an English browser
    orm(_email_member, "bn")
    context = browser.context(viewport=viewport, locale="en-US")
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    assert page.locator("html").get_attribute("lang") == "en"
    # when
    page.locator("input[name=login]").fill("ada@example.com")
    page.locator("input[name=password]").fill("pass-word-2026")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{live.url}/")
    # then: this page and the next are in Bengali
    assert page.locator("html").get_attribute("lang") == "bn"
    page.goto(f"{live.url}/profile/")
    assert page.locator("html").get_attribute("lang") == "bn"
    page.screenshot(path=SCREENSHOTS / f"sign-in-language-bn-{label}.png")
    context.close()
    assert browser.console_errors == []
