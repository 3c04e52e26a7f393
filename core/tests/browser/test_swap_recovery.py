"""Recovery with this site down: the taker takes an offer and locks TEST on local-b through
the pages of a web server started for this test; they save the recovery file and the
recovery page; then that server is stopped (and no worker runs). The saved page, opened from
disk in Chromium, reads the file (nothing uploaded), asks the chain, and refunds the lock
with the browser wallet once its timelock has passed; in English and in Bengali, at 1280 and
375 px."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from chains.keys import anvil_dev_account

from .conftest import CHAIN_B, accept_terms_on_first_sign_in, orm
from .server import LiveAsgiServer
from .test_swap_flow import STEP_MS, _bootstrap, _person, _scan, _send, _shoot, _state, _token
from .wallet import rpc

pytestmark = pytest.mark.slow


def _listing() -> int:
    from swaps.tests.factories import eth_test_listing, party

    maker, maker_key = party(1)
    return eth_test_listing(maker, maker_key).pk


def _offline_page(url: str, language: str, path: Path) -> Path:
    request = urllib.request.Request(
        f"{url}/swaps/recover/offline.html", headers={"Accept-Language": language}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        path.write_bytes(response.read())
    return path


def test_a_lock_is_refunded_from_the_saved_file_with_the_site_down(
    live, browser, chains, settings, tmp_path
):
    # given: a web server of this test's own, which it can stop
    tokens = orm(_bootstrap, settings)
    test_b = tokens[("local-b", "TEST")]
    server = LiveAsgiServer().start()
    settings.SITE_URL = server.url
    stopped = False
    try:
        listing_id = orm(_listing)
        requests: list[tuple[str, str]] = []
        wallet, taker = _person(browser, chains, 2, requests)
        taker.goto(f"{server.url}/accounts/login/?next=/listings/{listing_id}/")
        taker.get_by_role("button", name="Sign in with Ethereum").click()
        accept_terms_on_first_sign_in(taker, server, f"/listings/{listing_id}/")
        before = _token(chains, CHAIN_B, test_b, wallet.address)

        # when: the taker takes 1 ETH for 2.5 TEST, approves and locks on local-b
        taker.locator("#take-summary [data-can-take=true]").wait_for(timeout=STEP_MS)
        taker.get_by_label("Amount of ETH").fill("1")
        taker.locator("#take-summary", has_text="2.5 TEST").wait_for(timeout=STEP_MS)
        taker.locator("#take-button:enabled").wait_for(timeout=STEP_MS)
        taker.get_by_role("button", name="Take offer").click()
        taker.wait_for_url(re.compile(rf"{server.url}/swaps/[0-9a-f-]{{36}}/$"))
        taker.get_by_role("button", name="Send with my wallet").click()
        taker.locator("#next-message", has_text="Lock 2.5 TEST").wait_for(timeout=STEP_MS)
        _send(taker)
        _scan(chains)
        _state(taker, "taker_locked")
        assert _token(chains, CHAIN_B, test_b, wallet.address) == before - 2_500_000
        # and saves the recovery file and the recovery page, in English and Bengali
        with taker.expect_download() as download:
            taker.locator("#recovery-download").click()
        kit = tmp_path / "swap.recovery.json"
        download.value.save_as(kit)
        with taker.expect_download() as page_download:
            taker.get_by_role("link", name="Download the recovery page (works offline)").click()
        page_en = tmp_path / "swap-recovery.html"
        page_download.value.save_as(page_en)
        page_bn = _offline_page(server.url, "bn", tmp_path / "swap-recovery-bn.html")

        # and then the site goes down: its server stops (no worker runs in this test)
        server.stop()
        stopped = True
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"{server.url}/health/live", timeout=3)

        # when: the saved page is opened from disk and reads the file
        page = taker.context.new_page()
        page.goto(page_en.as_uri())
        page.set_input_files("#kit-file", str(kit))
        card = page.locator("[data-role=taker]")
        card.locator("[data-lock-status]", has_text="Locked").wait_for(timeout=STEP_MS)
        # then: it shows the lock and that its refund comes after the timelock
        assert "2.5 TEST on local-b" in card.inner_text()
        assert "You can refund it from" in card.inner_text()
        assert card.get_by_role("button", name="Refund with my wallet").count() == 0
        _shoot(page, "swap-recovery-offline-locked")

        # when: the chain passes the taker's timelock T1, and the file is read again
        timelock = int(re.search(r'"timelock": (\d+)', kit.read_text()).group(1))
        chain_now = int(
            rpc(chains[CHAIN_B].rpc_url, "eth_getBlockByNumber", ["latest", False])["timestamp"], 16
        )
        rpc(chains[CHAIN_B].rpc_url, "evm_increaseTime", [timelock - chain_now + 1])
        rpc(chains[CHAIN_B].rpc_url, "evm_mine")
        page.reload()
        page.set_input_files("#kit-file", str(kit))
        refund = card.get_by_role("button", name="Refund with my wallet")
        refund.wait_for(timeout=STEP_MS)
        refund.click()
        # then: the wallet sends the refund, and the TEST is back to the unit
        page.locator("#recovery-status[data-state=done]").wait_for(timeout=STEP_MS)
        assert "Refunded in transaction 0x" in page.locator("#recovery-status").inner_text()
        card.locator("[data-lock-status]", has_text="Refunded: returned to").wait_for(
            timeout=STEP_MS
        )
        assert _token(chains, CHAIN_B, test_b, wallet.address) == before
        _shoot(page, "swap-recovery-offline-refunded")

        # and the Bengali page reads the same file in Bengali
        bengali = taker.context.new_page()
        bengali.goto(page_bn.as_uri())
        bengali.set_input_files("#kit-file", str(kit))
        bengali.locator("[data-role=taker] [data-lock-status]", has_text="রিফান্ড হয়েছে").wait_for(
            timeout=STEP_MS
        )
        assert bengali.locator("html[lang=bn]").count() == 1
        _shoot(bengali, "swap-recovery-offline-bengali")
        assert wallet.failures == []
        # (the swap page left open keeps trying to reach the stopped site: expected)
        offline = [e for e in browser.console_errors if not e.startswith(server.url)]
        assert offline == []
    finally:
        if not stopped:
            server.stop()
    assert anvil_dev_account(2).address == wallet.address
