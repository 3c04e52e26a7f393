"""Helpers that drive a swap the way its users' wallets and the platform's workers do."""

from __future__ import annotations

from eth_account.messages import encode_defunct
from rest_framework.test import APIClient
from web3 import Web3

from chains import compiler, watcher
from chains import selectors as chain_selectors
from chains.models import Asset
from chains.tests.support import user as dev_account
from marketplace.models import Listing
from swaps.tests.factories import secret_pair


def sign_in(key) -> APIClient:
    """A client signed in by SIWE with `key` (real EIP-4361 message, real signature)."""
    client = APIClient()
    nonce = client.post(
        "/api/v1/auth/siwe/nonce", {"address": key.address, "chain_id": 31337}, format="json"
    ).json()
    signature = "0x" + key.sign_message(encode_defunct(text=nonce["message"])).signature.hex()
    answer = client.post(
        "/api/v1/auth/siwe/verify",
        # The user accepts the terms of service with the first sign-in (accounts.terms).
        {"message": nonce["message"], "signature": signature, "accept_terms": True},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['access']}")
    return client


def scan_all(chains) -> None:
    """Mine a block on each chain (one confirmation) and let the watcher read both."""
    for chain in chains:
        chain.mine(1)
    for network in chain_selectors.network_list():
        while watcher.network_scan(network=network).status == "scanned":
            pass


def send(chain, key, action: dict) -> dict:
    """Send a prepared next_action exactly as a wallet would."""
    assert action["chain_id"] == chain.w3.eth.chain_id
    if "from" in action:
        assert action["from"].lower() == key.address.lower()
    return chain.send(key, action["to"], action["data"], int(action["value"]))


def token(chain, symbol_network: str):
    asset = Asset.objects.get(network=symbol_network, symbol="TEST")
    return chain.w3.eth.contract(
        address=Web3.to_checksum_address(asset.address),
        abi=compiler.compile_contract("TestToken").abi,
    )


def detail(client, swap_id) -> dict:
    response = client.get(f"/api/v1/swaps/{swap_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def take(swap_env, amount="1.5", *, quote=("local-b", "TEST"), price="2.5"):
    """The maker (dev account 1) lists ETH on local-a for `quote` at `price` through the
    API; the taker (dev account 2) takes `amount`."""
    a, b = swap_env
    maker_key, taker_key = dev_account(1), dev_account(2)
    maker_api, taker_api = sign_in(maker_key), sign_in(taker_key)
    found = maker_api.get("/api/v1/assets/").json()
    rows = found["results"] if isinstance(found, dict) else found
    assets = {(a["network"], a["symbol"]): a["id"] for a in rows}
    posted = maker_api.post(
        "/api/v1/listings/",
        {
            "base_asset": assets[("local-a", "ETH")],
            "quote_asset": assets[quote],
            "amount": "3",
            "min_trade": "0.5",
            "max_trade": "2",
            "price": price,
            "payout_address": maker_key.address,
            "refund_address": maker_key.address,
        },
        format="json",
    )
    assert posted.status_code == 201, posted.content
    listing = Listing.objects.get(pk=posted.json()["id"])
    secret, hashlock = secret_pair()
    created = taker_api.post(
        "/api/v1/swaps/",
        {
            "listing": listing.pk,
            "amount": amount,
            "hashlock": hashlock,
            "taker_address": taker_key.address,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    return created.json(), secret, (maker_api, maker_key), (taker_api, taker_key), listing


def redeem(chain, key, step: dict, secret: str) -> dict:
    """The taker's redeem as a client builds it: `redeem(lock_id, secret)` from the ABI,
    sent to the `to` of the next_action (which carries no data: the server has no secret)."""
    htlc = chain.w3.eth.contract(address=step["to"], abi=compiler.compile_contract("HTLC").abi)
    args = [bytes.fromhex(step["lock_id"][2:]), bytes.fromhex(secret[2:])]
    return chain.send(key, step["to"], htlc.encode_abi("redeem", args=args))
