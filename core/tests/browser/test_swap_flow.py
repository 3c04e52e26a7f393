"""A whole swap in two browsers: the maker (anvil dev account 1) sells ETH on local-a for
TEST on local-b; the taker (dev account 2) takes 1.5 ETH. Each person signs in with SIWE and
sends every transaction from the swap page with an injected test wallet; the platform's
watcher (run by the test, one confirmation) moves the swap on, and both swap pages follow
over the WebSocket without anyone reloading them. Balances are checked to the wei.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from chains.keys import account_for, anvil_dev_account

from .conftest import (
    CHAIN_A,
    CHAIN_B,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    accept_terms_on_first_sign_in,
    orm,
)
from .test_pages import SMOKE_CHECK
from .wallet import TestWallet, rpc

pytestmark = pytest.mark.slow

SIGN_IN = "Sign in with Ethereum"
SEND = "Send with my wallet"
BALANCE_OF = "0x70a08231"  # balanceOf(address)
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# A transaction's whole life in the page (network switch, wallet, receipt polling) and a
# live update after the watcher's pass: generous, as CI shares two cores with other work.
STEP_MS = 60_000


def _bootstrap(settings) -> dict[tuple[str, str], str]:
    """Contracts and assets on both chains (TEST minted to dev accounts 1-4), fixed oracle
    prices; returns the TEST token address per network."""
    from chains import selectors as chain_selectors
    from chains.models import Asset
    from chains.services import network_bootstrap
    from marketplace.tests.support import publish_prices

    publish_prices(settings, {"TEST-USD": "1.00", "ETH-USD": "2.50"})
    for network in chain_selectors.network_list():
        network_bootstrap(network=network, test_token=True)
    return {(a.network, a.symbol): a.address for a in Asset.objects.filter(symbol="TEST")}


def _scan(chains) -> None:
    """Mine a block on each chain (one confirmation), then let the watcher read both, as
    the periodic task does; the relayer's redeem fires on commit inside the pass."""
    from chains import selectors as chain_selectors
    from chains import watcher

    for node in chains.values():
        rpc(node.rpc_url, "evm_mine")

    def scan() -> None:
        for network in chain_selectors.network_list():
            while watcher.network_scan(network=network).status == "scanned":
                pass

    orm(scan)


def _eth(chains, chain_id: int, address: str) -> int:
    return int(rpc(chains[chain_id].rpc_url, "eth_getBalance", [address, "latest"]), 16)


def _token(chains, chain_id: int, token: str, address: str) -> int:
    data = BALANCE_OF + address[2:].lower().rjust(64, "0")
    return int(
        rpc(chains[chain_id].rpc_url, "eth_call", [{"to": token, "data": data}, "latest"]), 16
    )


def _gas(chains, chain_id: int, tx_hash: str) -> int:
    receipt = rpc(chains[chain_id].rpc_url, "eth_getTransactionReceipt", [tx_hash])
    assert receipt["status"] == "0x1"
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


def _person(browser, chains, index: int, requests: list[tuple[str, str]]):
    """A browser context with dev account `index` in its wallet (on local-a, which is the
    only network it knows), recording the body of every request its pages send."""
    wallet = TestWallet(
        account=anvil_dev_account(index),
        chain_id=CHAIN_A,
        networks={CHAIN_A: chains[CHAIN_A].rpc_url},
        name=f"Wallet {index}",
    )
    context = browser.context()
    wallet.install(context)
    context.on("request", lambda r: requests.append((r.url, r.post_data or "")))

    def websocket(ws) -> None:
        ws.on("framesent", lambda frame: requests.append((ws.url, str(frame))))

    context.on("page", lambda page: page.on("websocket", websocket))
    return wallet, context.new_page()


def _sign_in(page, live, next_path: str) -> None:
    page.goto(f"{live.url}/accounts/login/?next={next_path}")
    page.get_by_role("button", name=SIGN_IN).click()
    accept_terms_on_first_sign_in(page, live, next_path)


def _shoot(page, name: str) -> None:
    """Screenshots at desktop and phone width, each with the layout and accessibility check."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        assert page.evaluate(SMOKE_CHECK) == [], f"{name} at {label} width"


def _state(page, state: str) -> None:
    """Wait until the page shows the swap in `state` (it reloads itself on live updates)."""
    page.locator(f"#swap-state[data-state={state}]").wait_for(timeout=STEP_MS)


def _send(page) -> None:
    """Press the page's send button and wait until the wallet's transaction is confirmed
    and the page says it waits for the platform to see it."""
    page.get_by_role("button", name=SEND).click()
    status = page.locator("#next-status[data-wallet-state=confirmed]")
    status.wait_for(timeout=STEP_MS)
    assert "Confirmed in block" in status.inner_text()
    assert "this page updates by itself" in page.locator("#next-message").inner_text()


def _navigations(page) -> list[str]:
    return page.evaluate("performance.getEntriesByType('navigation').map((n) => n.type)")


def test_two_browsers_complete_a_swap_on_two_chains(live, browser, chains, settings):
    # given: both chains bootstrapped; two people, each with a funded wallet
    tokens = orm(_bootstrap, settings)
    test_a, test_b = tokens[("local-a", "TEST")], tokens[("local-b", "TEST")]
    assert test_a and test_b
    requests: list[tuple[str, str]] = []
    maker_wallet, maker = _person(browser, chains, 1, requests)
    taker_wallet, taker = _person(browser, chains, 2, requests)
    relayer_b = account_for(role="RELAYER", network="local-b").address

    # when: both sign in with their wallets
    _sign_in(maker, live, "/listings/new/")
    _sign_in(taker, live, "/swaps/")

    # and the maker lists 3 ETH on local-a for TEST on local-b at 2.5, through the form
    maker.get_by_label("You sell:", exact=True).select_option(label="ETH (local-a)")
    maker.get_by_label("You receive:", exact=True).select_option(label="TEST (local-b)")
    maker.get_by_label("Total amount to sell:", exact=True).fill("3")
    maker.get_by_label("Minimum per trade:", exact=True).fill("0.5")
    maker.get_by_label("Maximum per trade:", exact=True).fill("2")
    maker.get_by_label("Fixed price (received per unit sold):", exact=True).fill("2.5")
    _shoot(maker, "swap-flow-create-listing")
    maker.get_by_role("button", name="Create listing").click()
    maker.wait_for_url(re.compile(rf"{live.url}/listings/\d+/$"))
    listing_url = maker.url
    listing_id = int(listing_url.rstrip("/").rsplit("/", 1)[1])

    # then: it is in the offer book
    maker.goto(f"{live.url}/market/ETH-TEST/")
    row = maker.locator(f"tr[data-listing='{listing_id}']")
    assert row.locator("[data-price]").inner_text() == "2.5"  # exact, shown without trailing zeros
    assert row.locator("[data-amount]").inner_text() == "3 ETH"
    _shoot(maker, "swap-flow-offer-book")

    # when: the taker opens it from the book and takes 1.5 ETH
    taker.goto(f"{live.url}/market/ETH-TEST/")
    taker.get_by_role("link", name=re.compile(rf"^Listing #{listing_id} ETH")).click()
    taker.wait_for_url(listing_url)
    form = taker.locator("#take-form")
    assert taker_wallet.address in form.get_by_label("Receive at").inner_text()
    form.get_by_label("Amount of ETH").fill("1.5")
    # then: before "Take offer", the summary for 1.5 ETH: both legs, the price against the
    # market, each step's network fee, no platform fee, every deadline as a local time, what
    # happens if a side stops, and the balances the wallet holds
    summary = taker.locator("#take-summary [data-can-take=true]")
    summary.wait_for(timeout=STEP_MS)
    taker.locator("#take-summary", has_text="1.5 ETH").wait_for(timeout=STEP_MS)
    text = taker.locator("#take-summary").inner_text()
    for words in (
        "You get",
        "1.5 ETH",
        "You pay",
        "3.75 TEST",
        "2.5 TEST per ETH",
        "Platform fee",
        "charges nothing",
        "Lock your payment (local-b)",
        "Redeem your coins (local-a)",
        "If either side stops",
        "you hold",
    ):
        assert words in text, words
    assert taker.locator("#take-summary time[data-local]").count() == 5
    assert "UTC" not in taker.locator("#take-summary time").first.inner_text()  # local time
    take = form.get_by_role("button", name="Take offer")
    assert take.is_enabled()
    _shoot(taker, "swap-flow-listing-take-form")
    take.click()
    taker.wait_for_url(re.compile(rf"{live.url}/swaps/{UUID}/$"))
    swap_url = taker.url
    swap_id = swap_url.rstrip("/").rsplit("/", 1)[1]

    # then: the secret is kept in the taker's browser and only its hash was sent
    hashlock = taker.evaluate("JSON.parse(document.getElementById('swap-hashlock').textContent)")
    secret = taker.evaluate(f"localStorage.getItem('swap-secret:{hashlock}')")
    assert re.fullmatch(r"0x[0-9a-f]{64}", secret)
    assert "0x" + hashlib.sha256(bytes.fromhex(secret[2:])).hexdigest() == hashlock
    assert any(hashlock in body for url, body in requests if url.endswith("/api/v1/swaps/"))
    _state(taker, "created")
    assert "1.5 ETH on local-a for 3.75 TEST on local-b" in taker.inner_text("main")
    backup = taker.locator("#recovery-download")
    assert backup.is_visible()
    assert backup.get_attribute("download") == f"swap-{swap_id}.recovery.json"
    with taker.expect_download() as download:
        backup.click()
    saved = json.loads(Path(download.value.path()).read_text())
    assert (saved["swap"], saved["hashlock"], saved["secret"]) == (swap_id, hashlock, secret)
    maker_leg = saved["legs"]["maker"]
    assert maker_leg["redeem"]["data"] == "0xb31597ad" + maker_leg["lock_id"][2:] + secret[2:]
    assert saved["legs"]["taker"]["refund"]["data"].startswith("0x7249fbb6")
    # and each deadline and timelock ticks down in local time
    countdown = taker.locator("[data-deadline=taker_lock] time[data-countdown]")
    first = countdown.inner_text()
    assert " left" in first and "UTC" not in first
    taker.wait_for_function(
        "(t) => document.querySelector('[data-deadline=taker_lock] time').textContent !== t",
        arg=first,
    )
    assert taker.evaluate(LEAVING_IS_WARNED) is True
    _shoot(taker, "swap-flow-1-created-taker")

    # and the maker opens the same swap from "My swaps" and waits there
    maker.goto(f"{live.url}/swaps/")
    maker.get_by_role("link", name=re.compile(swap_id[:10])).click()
    maker.wait_for_url(swap_url)
    _state(maker, "created")
    assert maker.get_by_role("button", name=SEND).is_hidden()

    # when: they write to each other on the swap page
    taker.get_by_label("Your message").fill("Locking my TEST now.")
    taker.get_by_role("button", name="Send message").click()
    # then: each message reaches the other page live, without a reload
    maker.locator("#chat li", has_text="Locking my TEST now.").wait_for(timeout=STEP_MS)
    maker.get_by_label("Your message").fill("Ready to lock my ETH.")
    maker.get_by_role("button", name="Send message").click()
    taker.locator("#chat li", has_text="Ready to lock my ETH.").wait_for(timeout=STEP_MS)
    assert taker.locator("#chat li[data-mine=true]").count() == 1
    _shoot(maker, "swap-flow-messages-maker")

    balances = {
        "maker_eth": _eth(chains, CHAIN_A, maker_wallet.address),
        "taker_eth": _eth(chains, CHAIN_A, taker_wallet.address),
        "maker_test": _token(chains, CHAIN_B, test_b, maker_wallet.address),
        "taker_test": _token(chains, CHAIN_B, test_b, taker_wallet.address),
        "relayer_test": _token(chains, CHAIN_B, test_b, relayer_b),
    }

    # when: the taker approves TEST, then locks it on local-b (the wallet learns local-b)
    assert "Allow the swap contract" in taker.locator("#next-message").inner_text()
    taker.get_by_role("button", name=SEND).click()
    # an approval does not change the state: the page loads its next step, the lock
    taker.locator("#next-message", has_text="Lock 3.75 TEST on local-b").wait_for(timeout=STEP_MS)
    _send(taker)
    assert taker.get_by_role("button", name=SEND).is_hidden()  # nothing to send twice
    assert [chain for chain, _ in taker_wallet.sent] == [CHAIN_B, CHAIN_B]
    _scan(chains)

    # then: both pages follow; the maker is offered the lock
    _state(taker, "taker_locked")
    _state(maker, "taker_locked")
    assert "Lock 1.5 ETH on local-a" in maker.locator("#next-message").inner_text()
    assert " left" in maker.locator("[data-deadline=maker_lock] time").inner_text()
    _shoot(maker, "swap-flow-2-taker-locked-maker")

    # when: the maker locks 1.5 ETH on local-a
    _send(maker)
    _scan(chains)

    # then: the taker is asked to redeem, with the secret from this browser filled in
    _state(maker, "maker_locked")
    _state(taker, "maker_locked")
    assert taker.get_by_role("textbox", name=re.compile("^Your secret")).input_value() == secret
    _shoot(taker, "swap-flow-3-maker-locked-taker")
    before_redeem = list(requests)

    # when: the taker redeems the maker's lock; the watcher sees the secret on local-a and
    # the relayer redeems the taker's lock on local-b for the maker
    _send(taker)
    _scan(chains)

    # then: both pages show the swap completed, without anyone reloading them
    _state(taker, "completed")
    _state(maker, "completed")
    _shoot(taker, "swap-flow-4-completed-taker")
    _shoot(maker, "swap-flow-4-completed-maker")
    for page in (maker, taker):
        assert all(kind in ("navigate", "reload") for kind in _navigations(page))
        assert page.get_by_role("button", name=SEND).is_hidden()
    assert taker.locator("#secret-backup").count() == 0  # no longer needed
    # and each page says where each coin went and who paid each fee
    money = taker.locator("#swap-money").inner_text()
    assert "Redeemed: paid to" in money and "our relayer paid its fee" in money
    assert "Done: you received 1.5 ETH on local-a" in taker.locator("#swap-status").inner_text()
    assert taker.evaluate(LEAVING_IS_WARNED) is False
    assert any(hashlock in body for _, body in before_redeem)  # the recorder saw the bodies
    leaked = [url for url, body in before_redeem if secret[2:] in body.lower()]
    assert leaked == [], "the secret was sent before the redeem"

    # and every balance moved by exactly the swap's amounts (plus each sender's own gas)
    (_, maker_lock), *_ = [(c, h) for c, h in maker_wallet.sent if c == CHAIN_A]
    (_, taker_redeem), *_ = [(c, h) for c, h in taker_wallet.sent if c == CHAIN_A]
    assert len(maker_wallet.sent) == 1 and len(taker_wallet.sent) == 3
    assert _eth(chains, CHAIN_A, taker_wallet.address) == (
        balances["taker_eth"] + 15 * 10**17 - _gas(chains, CHAIN_A, taker_redeem)
    )
    assert _eth(chains, CHAIN_A, maker_wallet.address) == (
        balances["maker_eth"] - 15 * 10**17 - _gas(chains, CHAIN_A, maker_lock)
    )
    assert (
        _token(chains, CHAIN_B, test_b, maker_wallet.address) == balances["maker_test"] + 3_750_000
    )
    assert (
        _token(chains, CHAIN_B, test_b, taker_wallet.address) == balances["taker_test"] - 3_750_000
    )
    assert _token(chains, CHAIN_B, test_b, relayer_b) == balances["relayer_test"]
    assert orm(_listing_remaining, listing_id) == Decimal("1.5")
    assert maker_wallet.failures == [] and taker_wallet.failures == []
    assert browser.console_errors == []

    # when: the taker switches the site to Bengali on the swap page
    taker.get_by_label("Language").select_option("bn")
    taker.get_by_role("button", name="Change").click()
    taker.locator("html[lang=bn]").wait_for()

    # then: the same swap page, in Bengali, still live
    assert taker.url == swap_url
    _state(taker, "completed")
    _shoot(taker, "swap-flow-5-completed-bengali")
    main = taker.inner_text("main")
    assert re.search("[\u0980-\u09ff]", main), "no Bengali text on the swap page"
    assert "1.5 ETH" in main and "3.75 TEST" in main
    taker.locator("#swap-live[data-live-state=live]").wait_for()  # and still follows the swap
    assert browser.console_errors == []


# Whether leaving the page now asks first (the page cancels beforeunload).
LEAVING_IS_WARNED = """() => {
    const event = new Event("beforeunload", { cancelable: true });
    window.dispatchEvent(event);
    return event.defaultPrevented;
}"""


def _listing_remaining(listing_id: int) -> Decimal:
    from marketplace.models import Listing

    return Listing.objects.get(pk=listing_id).remaining


# Text outside template tags, comments and HTML tags: it would stay English in Bengali.
_TEMPLATE_CODE = re.compile(
    r"{%\s*blocktranslate.*?{%\s*endblocktranslate\s*%}|{%.*?%}|{{.*?}}|{#.*?#}|<[^>]*>",
    re.DOTALL,
)


@pytest.mark.parametrize(
    "name",
    [
        "swaps/detail.html",
        "swaps/_take.html",
        "swaps/_step.html",
        "swaps/_state.html",
        "swaps/_quote.html",
        "swaps/_recover_body.html",
        "swaps/notifications.html",
        "swaps/_unread_badge.html",
    ],
)
def test_every_text_of_the_swap_pages_is_marked_for_translation(name):
    # given
    source = (Path(django_settings.BASE_DIR) / "templates" / name).read_text()
    # when
    bare = [text.strip() for text in _TEMPLATE_CODE.split(source) if re.search(r"[A-Za-z]", text)]
    # then
    assert bare == []
