"""Every main page at desktop (1280 px) and phone (375 px) width: a screenshot of each under
var/screenshots/, and a smoke check of layout and accessibility on both."""

from __future__ import annotations

import pytest

from .conftest import DESKTOP, PHONE, SCREENSHOTS, orm, signed_in_cookie

pytestmark = pytest.mark.slow

# (name, path, needs a signed-in user). Add each new main page here.
PAGES = [
    ("home", "/", False),
    ("sign-in", "/accounts/login/", False),
    ("sign-up", "/accounts/signup/", False),
    ("profile", "/profile/", True),
    ("wallets", "/profile/wallets/", True),
    ("kyc", "/profile/kyc/", True),
    ("market", "/market/", False),
    ("create-listing", "/listings/new/", True),
    ("my-listings", "/listings/mine/", True),
    ("my-swaps", "/swaps/", True),
    ("password-reset", "/accounts/password/reset/", False),  # allauth's own pages
    ("email-addresses", "/accounts/email/", True),
]

# Problems a person would meet: unnamed form fields, images without alt, not exactly one
# h1, nameless buttons or links, no page language, and a page wider than the screen.
SMOKE_CHECK = """() => {
    const problems = [];
    const shown = (el) => el.getClientRects().length > 0;
    for (const field of document.querySelectorAll("input, select, textarea")) {
        if (["hidden", "submit", "button", "reset", "image"].includes(field.type)) continue;
        const named = field.labels?.length || field.getAttribute("aria-label")
            || field.getAttribute("aria-labelledby") || field.title;
        const what = `${field.tagName.toLowerCase()} "${field.name || field.id}"`;
        if (!named) problems.push(`unlabelled ${what}`);
    }
    for (const img of document.querySelectorAll("img")) {
        if (!img.hasAttribute("alt")) problems.push(`image without alt: ${img.src}`);
    }
    for (const svg of document.querySelectorAll("svg[role=img]")) {
        const named = svg.getAttribute("aria-label") || svg.querySelector("title");
        if (!named) problems.push("unnamed svg image");
    }
    const h1 = document.querySelectorAll("h1").length;
    if (h1 !== 1) problems.push(`${h1} h1 elements`);
    for (const el of document.querySelectorAll("button, a[href]")) {
        const name = el.textContent.trim() || el.getAttribute("aria-label")
            || el.querySelector("img[alt]")?.alt;
        if (shown(el) && !name) problems.push(`nameless ${el.tagName.toLowerCase()}`);
    }
    if (!document.documentElement.lang) problems.push("no lang on <html>");
    const width = document.documentElement.scrollWidth;
    if (width > window.innerWidth) {
        problems.push(`page is ${width}px wide in a ${window.innerWidth}px window`);
    }
    for (const el of document.querySelectorAll("main *, header *")) {
        const box = el.getBoundingClientRect();
        if (shown(el) && box.right > window.innerWidth + 1 && !el.closest(".table-wrap")) {
            const what = `<${el.tagName.toLowerCase()} class="${el.className}">`;
            problems.push(`${what} sticks out to ${Math.round(box.right)}px`);
        }
    }
    return problems;
}"""


def _member():
    from accounts.tests.factories import UserFactory, WalletFactory

    # Named as a Sign-In with Ethereum account is: its address, the longest name in the nav.
    wallet = WalletFactory(user=UserFactory(display_name="Rahima Begum"))
    wallet.user.username = wallet.address.lower()
    wallet.user.save(update_fields=["username"])
    return wallet.user


@pytest.mark.parametrize(("name", "path", "signed_in"), PAGES, ids=[p[0] for p in PAGES])
def test_main_page_at_desktop_and_phone_width(live, browser, name, path, signed_in):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    cookie = orm(signed_in_cookie, orm(_member), live.url) if signed_in else None
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        # given
        context = browser.context(viewport=viewport)
        if cookie:
            context.add_cookies([cookie])
        page = context.new_page()
        # when
        response = page.goto(f"{live.url}{path}")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        # then
        assert response is not None and response.status == 200
        assert page.url == f"{live.url}{path}"  # not bounced to the sign-in page
        assert page.evaluate(SMOKE_CHECK) == [], f"{name} at {label} width"
        context.close()
    assert browser.console_errors == []


def test_api_docs_page_renders(live, browser):
    """Swagger UI is third-party: only a screenshot and that it rendered the operations."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.context(viewport=viewport).new_page()
        page.goto(f"{live.url}/api/docs/")
        page.locator(".opblock").first.wait_for()
        page.screenshot(path=SCREENSHOTS / f"api-docs-{label}.png", full_page=False)
