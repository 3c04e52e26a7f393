"""The swap pages people read, in Chromium at 1280 and 375 px, in English and Bengali: a take
refused before taking with its numbers and way out, the deadlines ticking on an open swap,
a dispute opened with an evidence file and decided by staff, and the notifications badge
and page. Screenshots go to var/screenshots/."""

from __future__ import annotations

import io

import pytest

from .conftest import orm, signed_in_cookie
from .test_swap_flow import STEP_MS, _bootstrap, _shoot

pytestmark = pytest.mark.slow


def _setup() -> dict:
    from swaps.tests.factories import eth_test_listing, make_swap, party

    maker, maker_key = party(1)
    poor, _ = party(5)  # ETH, but no TEST
    listing = eth_test_listing(maker, maker_key)
    swap, _secret, _m, (taker, _t) = make_swap(listing=listing)
    return {
        "listing": listing.pk,
        "swap": str(swap.pk),
        "maker": maker,
        "poor": poor,
        "taker": taker,
    }


def _decide(swap_id: str) -> None:
    from accounts.tests.factories import UserFactory
    from swaps import services
    from swaps.models import Dispute

    dispute = Dispute.objects.get(swap_id=swap_id)
    staff = UserFactory(is_staff=True)
    services.dispute_reply(dispute=dispute, staff=staff, body="We read both chains.")
    services.dispute_resolve(
        dispute=dispute,
        staff=staff,
        outcome=Dispute.Outcome.NO_FAULT,
        resolution="Both locks were made on time.",
    )


def _page(browser, live, user, language: str):
    context = browser.context()
    context.add_cookies(
        [
            orm(signed_in_cookie, user, live.url),
            {"name": "django_language", "value": language, "url": live.url},
        ]
    )
    return context.new_page()


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), "orange").save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("language", ["en", "bn"])
def test_the_swap_pages_in_each_language(live, browser, chains, settings, tmp_path, language):
    # given: a listing, a taker without TEST, and an open swap of another taker
    orm(_bootstrap, settings)
    data = orm(_setup)
    bn = language == "bn"

    # when: the taker without TEST opens the listing
    poor = _page(browser, live, data["poor"], language)
    poor.goto(f"{live.url}/listings/{data['listing']}/")
    refusal = poor.locator("#take-summary [data-code=insufficient_balance]")
    refusal.wait_for(timeout=STEP_MS)
    # then: told before taking, with the numbers and what to do, and "Take offer" stays off
    words = refusal.inner_text()
    assert "0 TEST" in words and "1.25 TEST" in words  # holds 0, needs 1.25 (0.5 ETH)
    assert ("যোগ করুন" if bn else "Add 1.25 TEST") in words
    assert poor.locator("#take-button").is_disabled()
    _shoot(poor, f"swap-ux-take-refused-{language}")

    # when: the taker of the open swap reads its page
    taker = _page(browser, live, data["taker"], language)
    taker.goto(f"{live.url}/swaps/{data['swap']}/")
    countdown = taker.locator("[data-deadline=taker_lock] time[data-countdown]")
    first = countdown.inner_text()
    # then: the deadline in local time, ticking
    assert ("বাকি" if bn else " left") in first
    taker.wait_for_function(
        "(t) => document.querySelector('[data-deadline=taker_lock] time').textContent !== t",
        arg=first,
    )
    assert taker.locator("[data-deadline] time").count() == 3  # lock by, T2, T1
    _shoot(taker, f"swap-ux-open-swap-{language}")

    # when: they open a dispute with a screenshot as evidence
    shot = tmp_path / "screen.png"
    shot.write_bytes(_png())
    taker.locator("#dispute-message").fill("The seller does not answer.")
    taker.locator("#dispute-evidence").set_input_files(str(shot))
    taker.locator("#dispute-form button[type=submit]").click()
    taker.locator("#dispute-messages li", has_text="The seller does not answer.").wait_for(
        timeout=STEP_MS
    )
    # then: the file is listed for the parties, and opens for them
    link = taker.locator("#dispute a[href^='/swaps/evidence/']")
    assert link.inner_text() == "screen.png"
    response = taker.request.get(f"{live.url}{link.get_attribute('href')}")
    assert response.status == 200 and response.body() == shot.read_bytes()
    _shoot(taker, f"swap-ux-dispute-open-{language}")

    # when: staff reply and decide
    orm(_decide, data["swap"])
    maker = _page(browser, live, data["maker"], language)
    maker.goto(f"{live.url}/swaps/{data['swap']}/")
    # then: the seller reads staff's words, the outcome and the reason
    outcome = maker.locator("#dispute-outcome")
    assert "Both locks were made on time." in outcome.inner_text()
    assert maker.locator("#dispute-messages li[data-staff=true]").count() == 1
    _shoot(maker, f"swap-ux-dispute-decided-{language}")

    # and the header's badge counts their unread notices on every page
    maker.goto(f"{live.url}/market/")
    badge = maker.locator("#unread-badge")
    unread = int(badge.get_attribute("data-unread"))
    assert unread >= 3  # taken, dispute opened, staff reply, decision
    badge.click()
    maker.wait_for_url(f"{live.url}/notifications/")
    notices = maker.locator(".notification-list li")
    assert notices.count() == unread
    decided = "কর্মীরা বিরোধের সিদ্ধান্ত দিয়েছেন" if bn else "Staff decided the dispute"
    assert decided in maker.locator(".notification-list").inner_text()
    _shoot(maker, f"swap-ux-notifications-{language}")
    maker.get_by_role(
        "button", name="সব পড়া হয়েছে হিসেবে চিহ্নিত করুন" if bn else "Mark all read"
    ).click()
    assert maker.locator("#unread-badge").get_attribute("data-unread") == "0"
    assert browser.console_errors == []
