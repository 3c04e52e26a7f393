"""The whole purchase in two browsers: the seller (anvil dev account 2) publishes rice in
TEST on local-b through the sell form; the buyer (dev account 1) adds 2 kg to the cart,
reads the summary, places the order and pays it from the order page with an injected test
wallet (approve, then deposit); the seller ships; the buyer confirms and releases. The
watcher (run by the test, with the Escrow hook-up of docs/escrow.md applied) confirms each
step. The seller receives exactly total − fee, the treasury the fee. Screenshots at 1280 and
375 px go to var/screenshots/ with the layout and accessibility check.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from chains.keys import anvil_dev_account
from core.tests.browser.conftest import (
    CHAIN_A,
    CHAIN_B,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    accept_terms_on_first_sign_in,
    orm,
)
from core.tests.browser.test_pages import SMOKE_CHECK
from core.tests.browser.wallet import TestWallet, rpc
from escrow.tests.support import watcher_reads_escrow

pytestmark = pytest.mark.slow

SEND = "Send with my wallet"
BALANCE_OF = "0x70a08231"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STEP_MS = 60_000


def _bootstrap() -> str:
    from chains import selectors as chain_selectors
    from chains.models import Asset
    from chains.services import network_bootstrap
    from escrow.models import Category

    # Another transactional test may have flushed the seeded categories.
    Category.objects.get_or_create(name="Grains")
    for network in chain_selectors.network_list():
        network_bootstrap(network=network, test_token=True)
    return Asset.objects.get(network="local-b", symbol="TEST").address


def _scan(chains) -> None:
    from chains import selectors as chain_selectors
    from chains import watcher

    for node in chains.values():
        rpc(node.rpc_url, "evm_mine")

    def scan() -> None:
        for network in chain_selectors.network_list():
            while watcher.network_scan(network=network).status == "scanned":
                pass

    orm(scan)


def _token(chains, token: str, address: str) -> int:
    data = BALANCE_OF + address[2:].lower().rjust(64, "0")
    answer = rpc(chains[CHAIN_B].rpc_url, "eth_call", [{"to": token, "data": data}, "latest"])
    return int(answer, 16)


def _person(browser, chains, index: int):
    wallet = TestWallet(
        account=anvil_dev_account(index),
        chain_id=CHAIN_A,
        networks={CHAIN_A: chains[CHAIN_A].rpc_url},
        name=f"Wallet {index}",
    )
    context = browser.context()
    wallet.install(context)
    return wallet, context.new_page()


def _sign_in(page, live, next_path: str) -> None:
    page.goto(f"{live.url}/accounts/login/?next={next_path}")
    page.get_by_role("button", name="Sign in with Ethereum").click()
    accept_terms_on_first_sign_in(page, live, next_path)


def _shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        assert page.evaluate(SMOKE_CHECK) == [], f"{name} at {label} width"


def _send(page) -> None:
    """Press the send button; the page reloads itself once the wallet's transaction is
    confirmed in a block."""
    page.get_by_role("button", name=SEND).first.click()
    page.locator(".wallet-status[data-wallet-state=confirmed]").wait_for(timeout=STEP_MS)
    page.wait_for_load_state("load")
    page.wait_for_timeout(2500)  # the page reloads 1.5 s after the confirmation


def _state(page, state: str) -> None:
    """The page shows `state`. It reloads itself when the order's WebSocket pushes a change;
    a reload here covers a push that came before the page had subscribed."""
    target = page.locator(f"#order-state[data-state={state}]")
    try:
        target.wait_for(timeout=3000)
        return
    except PlaywrightTimeoutError:
        pass
    try:
        page.reload()
    except PlaywrightError:  # the page's own live reload won the race; it loads anyway
        page.wait_for_load_state("load")
    target.wait_for(timeout=STEP_MS)


def test_two_browsers_buy_two_units_in_test_ship_confirm_and_release(live, browser, chains):
    # given both chains bootstrapped (HTLC, Escrow, TEST) and two people with wallets
    token = orm(_bootstrap)
    seller_wallet, seller = _person(browser, chains, 2)
    buyer_wallet, buyer = _person(browser, chains, 1)
    treasury = anvil_dev_account(7).address
    before = {
        "seller": _token(chains, token, seller_wallet.address),
        "treasury": _token(chains, token, treasury),
    }

    with watcher_reads_escrow():
        # when the seller signs in and publishes rice through the sell form
        _sign_in(seller, live, "/shop/sell/")
        seller.get_by_label("Title:", exact=True).fill("Aromatic rice")
        seller.get_by_label("Category:", exact=True).select_option(label="Grains")
        seller.get_by_label("Unit:", exact=True).select_option("kg")
        seller.get_by_label("Paid in:", exact=True).select_option(label="TEST@local-b")
        seller.get_by_label("Price per unit:", exact=True).fill("2.5")
        seller.get_by_label("Shipping fee per order:", exact=True).fill("1")
        seller.get_by_label("Quantity available:", exact=True).fill("10")
        seller.get_by_label("Pay me at (address):", exact=True).fill(seller_wallet.address)
        _shoot(seller, "shop-1-sell-form")
        seller.get_by_role("button", name="Publish").click()
        seller.wait_for_url(re.compile(rf"{live.url}/shop/products/\d+/$"))
        product_url = seller.url

        # and the buyer finds it in the catalogue, adds 2 kg and opens the cart
        _sign_in(buyer, live, "/shop/")
        buyer.get_by_role("link", name="Aromatic rice").click()
        buyer.wait_for_url(product_url)
        _shoot(buyer, "shop-2-product")
        buyer.get_by_label("Quantity:", exact=True).fill("2")
        buyer.get_by_role("button", name="Add to cart").click()
        buyer.wait_for_url(f"{live.url}/shop/cart/")

        # then the summary before paying: 5 + 1 shipping + 1 % fee = 6.06 TEST
        summary = buyer.locator("table.summary").inner_text()
        assert "5 TEST" in summary and "1 TEST" in summary
        assert "0.06 TEST" in summary and "6.06 TEST" in summary
        _shoot(buyer, "shop-3-cart")

        # when the buyer places the order and pays from the order page: approve, deposit
        buyer.get_by_label("Your address:", exact=True).fill(buyer_wallet.address)
        buyer.get_by_role("button", name="Place the order").click()
        buyer.wait_for_url(re.compile(rf"{live.url}/shop/orders/{UUID}/$"))
        order_url = buyer.url
        _shoot(buyer, "shop-4-order-created")
        assert "Allow the escrow to take 6.06 TEST" in buyer.locator("#next-message").inner_text()
        _send(buyer)
        assert "Pay 6.06 TEST into the escrow" in buyer.locator("#next-message").inner_text()
        _send(buyer)
        _scan(chains)
        _state(buyer, "funded")
        _shoot(buyer, "shop-5-order-funded")

        # and the seller ships with tracking details
        seller.goto(order_url)
        _state(seller, "funded")
        seller.get_by_label("How it was sent:", exact=True).fill("Sundarban Courier 12345")
        seller.get_by_role("button", name="Mark as shipped").click()
        seller.locator("#order-state[data-state=shipped]").wait_for()
        _shoot(seller, "shop-6-order-shipped")

        # and the buyer confirms delivery, then releases with the wallet
        _state(buyer, "shipped")
        buyer.get_by_role("button", name="It arrived as agreed: confirm").click()
        buyer.locator("#order-state[data-state=delivered]").wait_for()
        assert "Release the payment" in buyer.locator("#next-message").inner_text()
        _send(buyer)
        _scan(chains)

    # then both pages show it released, and the money moved exactly
    _state(buyer, "released")
    _state(seller, "released")
    _shoot(buyer, "shop-7-order-released-buyer")
    _shoot(seller, "shop-7-order-released-seller")
    assert _token(chains, token, seller_wallet.address) - before["seller"] == 6_000_000
    assert _token(chains, token, treasury) - before["treasury"] == 60_000
    assert [chain for chain, _ in buyer_wallet.sent] == [CHAIN_B, CHAIN_B, CHAIN_B]
    assert buyer_wallet.failures == [] and seller_wallet.failures == []
    assert browser.console_errors == []
