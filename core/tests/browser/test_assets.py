"""Front-end assets: npm packages built into static/vendor/, our modules importing each other
by hashed name, and every script text translatable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage

STATIC_JS = Path(settings.BASE_DIR) / "static" / "js"
BASE_TEMPLATE = Path(settings.BASE_DIR) / "templates" / "base.html"


def _template_keys() -> set[str]:
    return set(re.findall(r'<span data-key="(\w+)">', BASE_TEMPLATE.read_text()))


def _script_keys() -> set[str]:
    """Message keys the scripts ask for: t("key"), make("key"), and API_ERRORS' values."""
    keys: set[str] = set()
    for path in STATIC_JS.glob("*.js"):
        text = path.read_text()
        keys |= set(re.findall(r'\b(?:t|make)\(\s*"(\w+)"', text))
        for table in re.findall(r"const API_ERRORS = \{(.*?)\};", text, re.S):
            keys |= set(re.findall(r':\s*"(\w+)"', table))
    return keys


def test_every_script_text_is_in_the_translated_catalog_and_none_is_unused():
    # given
    template, scripts = _template_keys(), _script_keys()
    # then
    assert scripts - template == set(), "texts missing from base.html's ui-messages"
    assert template - scripts == set(), "texts in base.html no script uses"
    assert len(scripts) > 40


def test_collected_modules_import_each_other_by_hashed_name():
    # given: collectstatic has run (root conftest)
    buttons = Path(
        staticfiles_storage.path(staticfiles_storage.stored_name("js/wallet-buttons.js"))
    )
    wallet_hashed = Path(staticfiles_storage.stored_name("js/wallet.js")).name
    # then
    assert wallet_hashed != "wallet.js"
    assert f'from "./{wallet_hashed}";' in buttons.read_text()


def test_vendored_packages_are_built_and_not_committed():
    # given
    vendor = Path(settings.BASE_DIR) / "static" / "vendor"
    gitignore = (Path(settings.BASE_DIR) / ".gitignore").read_text().splitlines()
    # then
    assert (vendor / "htmx.min.js").stat().st_size > 10_000, "run `make assets`"
    assert (vendor / "walletconnect.js").stat().st_size > 100_000, "run `make assets`"
    assert "static/vendor/" in gitignore


@pytest.mark.slow
def test_the_walletconnect_bundle_loads_in_the_browser(live, browser):
    # given
    page = browser.context().new_page()
    page.goto(f"{live.url}/accounts/login/")
    # when
    loaded = page.evaluate(
        "async (src) => typeof (await import(src)).EthereumProvider?.init",
        staticfiles_storage.url("vendor/walletconnect.js"),
    )
    # then
    assert loaded == "function"
    assert browser.console_errors == []


@pytest.mark.slow
def test_htmx_requests_carry_the_csrf_token(live, browser):
    # given: the home page, in English
    page = browser.context().new_page()
    page.goto(f"{live.url}/")
    assert page.get_attribute("html", "lang") == "en"
    # when: htmx posts to a CSRF-protected view (the language switch)
    status = page.evaluate(
        """() => new Promise((resolve) => {
            const done = (e) => resolve(e.detail.xhr.status);
            document.body.addEventListener("htmx:afterRequest", done, { once: true });
            const values = { language: "bn", next: "/" };
            htmx.ajax("POST", "/i18n/setlang/", { source: document.body, swap: "none", values });
        })"""
    )
    # then: Django accepted it (a 403 means the token was missing)
    page.goto(f"{live.url}/")
    assert status == 200
    assert page.get_attribute("html", "lang") == "bn"
