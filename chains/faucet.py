"""A demo faucet for the local chains: test ETH and TEST to a wallet the user linked.

DEBUG only: with DEBUG off the page does not exist (404) and ``faucet_send`` refuses. It
pays from one of anvil's public development accounts (``FAUCET_ACCOUNT_INDEX``: not the
deployer's 0, the demo holders' 1-4 or the relayer's 9, so its nonces race nobody's) and
mints TEST, whose contract lets anyone mint on the local chains. Only ``local-*`` networks
are served, whatever else is configured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from web3 import Web3

from chains import compiler, evm
from chains.interface import ChainUnavailable
from chains.keys import anvil_dev_account
from chains.models import Asset
from chains.networks import Network, configured_networks
from chains.services import TEST_TOKEN
from core.decimals import base_units

logger = logging.getLogger(__name__)

FAUCET_ACCOUNT_INDEX = 8
RECEIPT_TIMEOUT = 20.0


class FaucetClosed(Exception):
    """The faucet only runs with DEBUG on."""


@dataclass(frozen=True)
class FaucetTx:
    """One transfer the faucet sent: what, how much, where, and its transaction."""

    network: str
    symbol: str
    amount: Decimal
    tx_hash: str
    ok: bool


def faucet_networks() -> list[Network]:
    """The configured local networks (``local-*``): the only ones the faucet pays on."""
    return [n for n in configured_networks() if n.name.startswith("local-")]


def _amounts() -> tuple[Decimal, Decimal]:
    return (
        Decimal(str(settings.FAUCET_ETH)),
        Decimal(str(settings.FAUCET_TEST)),
    )


def faucet_send(*, address: str, networks: list[Network] | None = None) -> list[FaucetTx]:
    """Send test ETH and mint TEST to `address` on each local network, and wait for them.

    Preconditions: DEBUG on; `address` is a wallet the caller has checked belongs to the
    user. Side effects: up to two transactions per network, from anvil's development
    account ``FAUCET_ACCOUNT_INDEX``. Raises ``FaucetClosed`` with DEBUG off and
    ``ChainUnavailable`` when a chain does not answer (transfers already sent stay sent).
    """
    if not settings.DEBUG:
        raise FaucetClosed("the faucet runs only with DEBUG on")
    eth, test = _amounts()
    account = anvil_dev_account(FAUCET_ACCOUNT_INDEX)
    to = Web3.to_checksum_address(address)
    sent: list[tuple[Network, str, Decimal, str]] = []
    for network in networks if networks is not None else faucet_networks():
        with evm.rpc_errors(f"faucet on {network.name}"):
            w3 = evm.web3_for(network)
            nonce = w3.eth.get_transaction_count(account.address, "pending")
            tx = evm.send_transaction(
                w3, account, {"to": to, "value": base_units(eth, 18)}, nonce=nonce
            )
            sent.append((network, network.native_symbol, eth, tx.tx_hash))
            token = Asset.objects.filter(
                network=network.name, symbol="TEST", address__isnull=False
            ).first()
            if token is not None and token.address:
                contract = w3.eth.contract(
                    address=Web3.to_checksum_address(token.address),
                    abi=compiler.compile_contract(TEST_TOKEN).abi,
                )
                data = contract.encode_abi("mint", args=[to, base_units(test, token.decimals)])
                tx = evm.send_transaction(
                    w3, account, {"to": contract.address, "data": data}, nonce=nonce + 1
                )
                sent.append((network, token.symbol, test, tx.tx_hash))
    results = []
    for network, symbol, amount, tx_hash in sent:
        with evm.rpc_errors(f"faucet receipt on {network.name}"):
            mined = evm.wait_for_receipt(evm.web3_for(network), tx_hash, timeout=RECEIPT_TIMEOUT)
        results.append(FaucetTx(network.name, symbol, amount, tx_hash, mined.status == 1))
    logger.info("faucet sent", extra={"address": to, "transfers": len(results)})
    return results


@login_required
@require_http_methods(["GET", "POST"])
def page(request: HttpRequest) -> HttpResponse:
    """The faucet page: choose one of your linked wallets, get test coins on every local
    network. 404 unless DEBUG is on."""
    if not settings.DEBUG:
        raise Http404
    # The user's linked wallets through the relation (chains sits below accounts and does
    # not import it).
    wallets = list(request.user.wallets.order_by("created_at", "pk"))  # type: ignore[union-attr]
    networks = faucet_networks()
    if request.method == "POST":
        chosen = request.POST.get("address", "")
        if chosen.lower() not in {w.address.lower() for w in wallets}:
            messages.error(request, _("Choose one of your linked wallets."))
            return redirect("faucet")
        try:
            results = faucet_send(address=chosen, networks=networks)
        except ChainUnavailable:
            messages.error(
                request,
                _("A local chain did not answer. Start the chains, then try again."),
            )
        else:
            for result in results:
                text = _("%(amount)s %(symbol)s on %(network)s") % {
                    "amount": result.amount,
                    "symbol": result.symbol,
                    "network": result.network,
                }
                if result.ok:
                    messages.success(request, _("Sent %(what)s.") % {"what": text})
                else:
                    messages.error(request, _("Sending %(what)s failed.") % {"what": text})
        return redirect("faucet")
    eth, test = _amounts()
    context = {"wallets": wallets, "networks": networks, "eth": eth, "test": test}
    return render(request, "chains/faucet.html", context)
