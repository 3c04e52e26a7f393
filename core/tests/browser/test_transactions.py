"""wallet.js sendPrepared(): switch or add the network, send, show pending then confirmed."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from eth_account import Account

from chains.keys import anvil_dev_account

from .conftest import CHAIN_A, CHAIN_B, EXPLORER_B
from .wallet import TestWallet, rpc

pytestmark = pytest.mark.slow

# Starts sendPrepared() with a status panel appended to <main>; the outcome lands in
# window.__sent as {hash} or {error: code, message}.
SEND = """async ([src, tx]) => {
    const wallet = await import(src);
    const box = document.createElement("div");
    box.id = "tx-status";
    document.querySelector("main").append(box);
    const button = document.createElement("button");
    const send = (ui) => wallet.sendPrepared(tx, { ui, pollMs: 100 });
    const failure = () => ({ error: box.dataset.walletState, message: box.textContent });
    window.__sent = wallet.runWithStatus(button, box, send).then((result) =>
        result ? { hash: result.hash } : failure()
    );
}"""


def _funded_wallet(chains, index: int, **kwargs) -> TestWallet:
    """anvil's dev account `index` on chain A; the wallet does not know chain B yet."""
    return TestWallet(
        account=anvil_dev_account(index),
        chain_id=CHAIN_A,
        networks={CHAIN_A: chains[CHAIN_A].rpc_url},
        **kwargs,
    )


def _page(browser, live, wallet):
    context = browser.context()
    wallet.install(context)
    page = context.new_page()
    page.goto(f"{live.url}/accounts/login/")
    return page


def test_send_prepared_adds_the_network_then_shows_pending_and_confirmed(live, browser, chains):
    # given: the transaction is for chain B, which the wallet has never seen; B mines on demand
    wallet = _funded_wallet(chains, 7)
    recipient = Account.create().address
    amount = 1234567890123456789  # not representable as a float: must arrive to the wei
    node_b = chains[CHAIN_B].rpc_url
    page = _page(browser, live, wallet)
    tx = {
        "network": "local-b",
        "chain_id": CHAIN_B,
        "to": recipient,
        "data": "0x",
        "value": str(amount),
    }
    rpc(node_b, "evm_setAutomine", [False])
    try:
        # when
        page.evaluate(SEND, [staticfiles_storage.url("js/wallet.js"), tx])
        pending = page.locator("#tx-status[data-wallet-state=pending]")
        pending.wait_for()
        tx_hash = pending.locator("code.tx-hash").inner_text()
        link = pending.get_by_role("link", name="View on the explorer")
        assert link.get_attribute("href") == f"{EXPLORER_B}/tx/{tx_hash}"
        assert rpc(node_b, "eth_getTransactionReceipt", [tx_hash]) is None
        rpc(node_b, "evm_mine")
        # then
        confirmed = page.locator("#tx-status[data-wallet-state=confirmed]")
        confirmed.wait_for()
    finally:
        rpc(node_b, "evm_setAutomine", [True])
    receipt = rpc(node_b, "eth_getTransactionReceipt", [tx_hash])
    assert page.evaluate("window.__sent") == {"hash": tx_hash}
    assert f"Confirmed in block {int(receipt['blockNumber'], 16)}." in confirmed.inner_text()
    assert int(rpc(node_b, "eth_getBalance", [recipient, "latest"]), 16) == amount
    assert wallet.chain_id == CHAIN_B
    (added,) = wallet.added
    assert added["rpcUrls"] == [node_b] and added["blockExplorerUrls"] == [EXPLORER_B]
    assert wallet.failures == []


def test_send_prepared_asks_again_to_switch_when_adding_did_not(live, browser, chains):
    # given: a wallet that adds networks without switching to them
    wallet = _funded_wallet(chains, 8, switch_on_add=False)
    page = _page(browser, live, wallet)
    tx = {"network": "local-b", "chain_id": CHAIN_B, "to": Account.create().address, "value": "1"}
    # when
    page.evaluate(SEND, [staticfiles_storage.url("js/wallet.js"), tx])
    # then
    assert "hash" in page.evaluate("window.__sent")
    switches = [params for method, params in wallet.calls if method == "wallet_switchEthereumChain"]
    assert switches == [[{"chainId": hex(CHAIN_B)}], [{"chainId": hex(CHAIN_B)}]]


def test_declining_the_transaction_says_nothing_was_sent(live, browser, chains):
    # given
    wallet = _funded_wallet(chains, 7, reject={"eth_sendTransaction"})
    page = _page(browser, live, wallet)
    tx = {"network": "local-a", "chain_id": CHAIN_A, "to": Account.create().address, "value": "5"}
    # when
    page.evaluate(SEND, [staticfiles_storage.url("js/wallet.js"), tx])
    # then
    outcome = page.evaluate("window.__sent")
    assert outcome["error"] == "error"
    assert (
        "You declined the request in your wallet. Nothing was signed or sent" in outcome["message"]
    )
    assert page.get_by_role("alert").is_visible()


def test_a_wallet_without_funds_is_told_to_add_funds(live, browser, chains):
    # given: a fresh key with no ether
    wallet = TestWallet.fresh(CHAIN_A, {CHAIN_A: chains[CHAIN_A].rpc_url})
    page = _page(browser, live, wallet)
    tx = {"network": "local-a", "chain_id": CHAIN_A, "to": Account.create().address, "value": "10"}
    # when
    page.evaluate(SEND, [staticfiles_storage.url("js/wallet.js"), tx])
    # then
    assert "does not have enough funds" in page.evaluate("window.__sent")["message"]


def test_a_malformed_prepared_transaction_is_refused_before_the_wallet_is_asked(
    live, browser, chains
):
    # given: a fractional amount (amounts are integers in the smallest unit)
    wallet = _funded_wallet(chains, 7)
    page = _page(browser, live, wallet)
    tx = {"network": "local-a", "chain_id": CHAIN_A, "to": Account.create().address, "value": "0.5"}
    # when
    page.evaluate(SEND, [staticfiles_storage.url("js/wallet.js"), tx])
    # then
    assert "This transaction is incomplete (value)" in page.evaluate("window.__sent")["message"]
    assert wallet.calls == []


def test_a_network_the_site_does_not_offer_is_refused_with_what_to_do(live, browser, chains):
    # given
    wallet = _funded_wallet(chains, 7)
    page = _page(browser, live, wallet)
    tx = {"network": "elsewhere", "chain_id": 999, "to": Account.create().address, "value": "1"}
    # when
    page.evaluate(SEND, [staticfiles_storage.url("js/wallet.js"), tx])
    # then
    assert (
        "does not offer the network with chain id 999" in page.evaluate("window.__sent")["message"]
    )
    assert "eth_sendTransaction" not in wallet.methods


def test_a_send_button_sends_its_prepared_transaction_and_announces_confirmation(
    live, browser, chains
):
    # given: a button as a swap page renders it from the API's next_action
    wallet = _funded_wallet(chains, 9)
    recipient = Account.create().address
    page = _page(browser, live, wallet)
    tx = {"network": "local-a", "chain_id": CHAIN_A, "to": recipient, "data": "0x", "value": "42"}
    page.evaluate(
        """async ([src, tx]) => {
            const button = document.createElement("button");
            button.type = "button";
            button.textContent = "Lock payment";
            button.dataset.walletAction = "send";
            button.dataset.tx = JSON.stringify(tx);
            document.querySelector("main").append(button);
            window.__confirmed = new Promise((resolve) =>
                document.addEventListener("wallet:confirmed", (e) => resolve(e.detail.hash))
            );
            (await import(src)).wireWalletButtons();
        }""",
        [staticfiles_storage.url("js/wallet-buttons.js"), tx],
    )
    # when
    page.get_by_role("button", name="Lock payment").click()
    # then
    tx_hash = page.evaluate("window.__confirmed")
    status = page.locator(".wallet-status[data-wallet-state=confirmed]")
    assert tx_hash in status.inner_text()
    receipt = rpc(chains[CHAIN_A].rpc_url, "eth_getTransactionReceipt", [tx_hash])
    assert receipt["status"] == "0x1" and receipt["to"] == recipient.lower()
    assert int(rpc(chains[CHAIN_A].rpc_url, "eth_getBalance", [recipient, "latest"]), 16) == 42
