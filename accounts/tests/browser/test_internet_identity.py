"""Sign in with Internet Identity and link a principal, in Chromium, through the stand-in
Internet Identity window (the same postMessage protocol as identity.ic0.app)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings

from accounts.models import User
from core.tests.browser.conftest import SCREENSHOTS, orm, signed_in_cookie

pytestmark = pytest.mark.slow

SIGN_IN = "Sign in with Internet Identity"
LINK = "Link a principal with Internet Identity"


def _continue(popup, identity) -> None:
    """What the person does in the Internet Identity window."""
    popup.get_by_role("button", name=f"Continue with identity {identity.anchor}").click()


def test_the_internet_identity_bundle_is_built():
    # given: `make assets`
    bundle = Path(django_settings.BASE_DIR) / "static" / "vendor" / "internet-identity.js"
    # then
    assert bundle.stat().st_size > 20_000, "run `make assets`"
    assert "authorize-client" in bundle.read_text()


def test_sign_in_with_internet_identity_ends_signed_in(live, browser, identity):
    # given
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    principal = identity.principal(live.url)
    page = browser.context().new_page()
    page.goto(f"{live.url}/accounts/login/?next=/profile/")
    page.get_by_label("I accept the terms of service (needed the first time)").check()
    # when
    with page.expect_popup() as opened:
        page.get_by_role("button", name=SIGN_IN).click()
    popup = opened.value
    popup.screenshot(path=SCREENSHOTS / "ii-window.png")
    _continue(popup, identity)
    page.wait_for_url(f"{live.url}/profile/")
    page.screenshot(path=SCREENSHOTS / "ii-signed-in.png", full_page=True)
    # then
    user = orm(lambda: User.objects.get(icp_principal=principal))
    assert user.icp_principal_proven_at is not None
    assert user.terms_version == django_settings.TERMS_VERSION
    nav = page.get_by_role("navigation", name="Main")
    assert user.get_username() in nav.inner_text()
    (request,) = identity.requests
    assert request.origin == live.url  # II derived the principal for this site's origin
    assert request.max_time_to_live_ns == 10 * 60 * 1_000_000_000
    assert popup.is_closed()
    assert browser.console_errors == []


def test_sign_in_without_the_terms_explains_what_to_do(live, browser, identity):
    # given: a new identity, the box left unticked
    page = browser.context().new_page()
    page.goto(f"{live.url}/accounts/login/")
    # when
    with page.expect_popup() as opened:
        page.get_by_role("button", name=SIGN_IN).click()
    _continue(opened.value, identity)
    # then
    alert = page.get_by_role("alert")
    assert "Tick the box to accept the terms of service" in alert.inner_text()
    assert orm(lambda: User.objects.count()) == 0


def test_closing_the_internet_identity_window_is_explained(live, browser, identity):
    # given
    page = browser.context().new_page()
    page.goto(f"{live.url}/accounts/login/")
    # when
    with page.expect_popup() as opened:
        page.get_by_role("button", name=SIGN_IN).click()
    opened.value.close()
    # then
    assert "You closed the Internet Identity window" in page.get_by_role("alert").inner_text()
    assert identity.requests == []


def test_link_a_principal_from_the_wallets_page_shows_its_icp_balance(live, browser, identity, ic):
    # given: a signed-in account (e-mail), and 12.5 ICP for its principal on this site
    from accounts.tests.factories import UserFactory

    user = orm(UserFactory)
    principal = identity.principal(live.url)
    ic.set_balance(principal, 1_250_000_000)
    context = browser.context()
    context.add_cookies([orm(signed_in_cookie, user, live.url)])
    page = context.new_page()
    page.goto(f"{live.url}/profile/wallets/")
    # when
    with page.expect_popup() as opened:
        page.get_by_role("button", name=LINK).click()
    _continue(opened.value, identity)
    row = page.locator("tr[data-network=icp][data-symbol=ICP]")
    row.wait_for()  # the page reloads once the principal is linked
    page.screenshot(path=SCREENSHOTS / "ii-linked-wallets.png", full_page=True)
    # then
    assert row.get_attribute("data-status") == "ok"
    assert "12.5" in row.inner_text()
    assert principal in page.get_by_role("main").inner_text()
    linked = orm(lambda: User.objects.get(pk=user.pk))
    assert linked.icp_principal == principal and linked.icp_principal_proven_at is not None
    assert browser.console_errors == []
