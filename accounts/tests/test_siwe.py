from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from eth_account import Account

from accounts import siwe as siwe_messages
from accounts.models import AuditEvent, SiweNonce, User, Wallet
from accounts.tests.conftest import CHAIN_ID, network, sign
from accounts.tests.factories import UserFactory, WalletFactory
from chains.keys import anvil_dev_account

pytestmark = pytest.mark.django_db


def _message(key, *, nonce: str, **overrides) -> str:
    """A SIWE message for this site, with any field replaced."""
    issued = timezone.now().replace(microsecond=0)
    fields = {
        "address": key.address,
        "chain_id": CHAIN_ID,
        "nonce": nonce,
        "issued_at": issued,
        "expires_at": issued + timedelta(minutes=5),
    }
    fields.update(overrides)
    return siwe_messages.build_message(**fields)


# ------------------------------------------------------------------------ nonce


def test_nonce_returns_the_complete_message_for_the_site_url(siwe, wallet_key):
    # when
    body = siwe.nonce(wallet_key)
    # then
    message = body["message"]
    assert message.startswith("swap.example wants you to sign in with your Ethereum account:\n")
    assert f"\n{wallet_key.address}\n" in message
    assert "\nURI: https://swap.example\n" in message
    assert "\nVersion: 1\n" in message
    assert f"\nChain ID: {CHAIN_ID}\n" in message
    assert f"\nNonce: {body['nonce']}\n" in message
    assert "\nIssued At: " in message and "\nExpiration Time: " in message
    stored = SiweNonce.objects.get(nonce=body["nonce"])
    assert stored.address == wallet_key.address and stored.chain_id == CHAIN_ID
    assert stored.expires_at - stored.issued_at == timedelta(minutes=5)


def test_nonce_ignores_the_request_host_header(siwe, api, wallet_key):
    # when
    response = api.post(
        "/api/v1/auth/siwe/nonce",
        {"address": wallet_key.address, "chain_id": CHAIN_ID},
        format="json",
        HTTP_HOST="evil.example",
    )
    # then: refused by ALLOWED_HOSTS, or answered for SITE_URL; never for evil.example
    assert response.status_code in (201, 400)
    assert "evil.example" not in response.content.decode()


def test_nonce_checksums_a_lowercase_address(siwe, wallet_key):
    # when
    body = siwe.nonce(wallet_key.address.lower())
    # then
    assert f"\n{wallet_key.address}\n" in body["message"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"address": "0x1234", "chain_id": CHAIN_ID}, "invalid_address"),
        ({"address": "0x" + "ab" * 20, "chain_id": 999}, "chain_not_supported"),
        ({"address": "0x" + "ab" * 20}, "required"),
    ],
)
def test_nonce_with_bad_input_is_refused_with_a_code(api, payload, code):
    # when
    response = api.post("/api/v1/auth/siwe/nonce", payload, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["code"] == code


# ----------------------------------------------------------------------- verify


def test_verify_first_sign_in_creates_an_account_with_tokens_and_session(siwe, api, wallet_key):
    # given
    message = siwe.nonce(wallet_key)["message"]
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access"] and body["refresh"]
    user = User.objects.get(pk=body["user"]["id"])
    assert user.username == wallet_key.address.lower()
    assert not user.has_usable_password()
    assert [w["address"] for w in body["user"]["wallets"]] == [wallet_key.address]
    assert api.get("/api/v1/me").json()["id"] == user.pk  # session cookie works
    assert AuditEvent.objects.filter(user=user, event="sign_in", detail__method="siwe").exists()


def test_verify_again_signs_in_the_same_account(siwe, wallet_key):
    # given
    first = siwe.sign_in(wallet_key).json()["user"]["id"]
    # when
    second = siwe.sign_in(wallet_key)
    # then
    assert second.status_code == 200
    assert second.json()["user"]["id"] == first
    assert User.objects.count() == 1


def test_verify_username_avoids_a_taken_username(siwe, wallet_key):
    # given: an e-mail user who happens to have the address as username
    UserFactory(username=wallet_key.address.lower())
    # when
    response = siwe.sign_in(wallet_key)
    # then
    assert response.status_code == 200
    assert response.json()["user"]["username"] == wallet_key.address.lower() + "-2"


def _refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert set(response.json()) == {"detail", "code"}


def test_verify_unknown_nonce_is_refused(siwe, wallet_key):
    # given: a well-formed message with a nonce we never issued
    message = _message(wallet_key, nonce="a1b2c3d4e5f60718")
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    _refused(response, 401, "nonce_unknown")


def test_verify_reused_nonce_is_refused(siwe, wallet_key):
    # given
    message = siwe.nonce(wallet_key)["message"]
    signature = sign(wallet_key, message)
    assert siwe.verify(message, signature).status_code == 200
    # when
    response = siwe.verify(message, signature)
    # then
    _refused(response, 401, "nonce_used")


def test_verify_expired_message_is_refused(siwe, wallet_key):
    # given: a nonce that is still stored but whose message expired
    nonce = siwe.nonce(wallet_key)["nonce"]
    past = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    message = _message(
        wallet_key, nonce=nonce, issued_at=past, expires_at=past + timedelta(minutes=5)
    )
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    _refused(response, 401, "message_expired")


def test_verify_after_the_nonce_ttl_is_refused(siwe, wallet_key):
    # given: the issued message, after the nonce's five minutes
    body = siwe.nonce(wallet_key)
    SiweNonce.objects.filter(nonce=body["nonce"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    # when
    response = siwe.verify(body["message"], sign(wallet_key, body["message"]))
    # then
    _refused(response, 401, "message_expired")


def test_verify_wrong_domain_is_refused(siwe, wallet_key, settings):
    # given: a message made for another site
    nonce = siwe.nonce(wallet_key)["nonce"]
    settings.SITE_URL = "https://evil.example"
    message = _message(wallet_key, nonce=nonce)
    settings.SITE_URL = "https://swap.example"
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    _refused(response, 401, "domain_mismatch")


def test_verify_wrong_uri_is_refused(siwe, wallet_key):
    # given: right domain, other URI
    message = siwe.nonce(wallet_key)["message"].replace(
        "URI: https://swap.example", "URI: https://swap.example.evil.example"
    )
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    _refused(response, 401, "uri_mismatch")


def test_verify_unconfigured_chain_id_is_refused(siwe, wallet_key):
    # given
    nonce = siwe.nonce(wallet_key)["nonce"]
    message = _message(wallet_key, nonce=nonce, chain_id=1)
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    _refused(response, 400, "chain_not_supported")


def test_verify_signature_by_another_key_is_refused(siwe, wallet_key):
    # given
    message = siwe.nonce(wallet_key)["message"]
    # when
    response = siwe.verify(message, sign(Account.create(), message))
    # then
    _refused(response, 401, "signature_invalid")
    assert User.objects.count() == 0


def test_verify_signature_over_another_text_is_refused(siwe, wallet_key):
    # given
    message = siwe.nonce(wallet_key)["message"]
    # when
    response = siwe.verify(message, sign(wallet_key, message + " "))
    # then
    _refused(response, 401, "signature_invalid")


@pytest.mark.parametrize("signature", ["", "0x", "0xzz", "0x" + "00" * 65, "12" * 65])
def test_verify_garbage_signature_is_refused_without_a_500(siwe, wallet_key, signature):
    # given
    message = siwe.nonce(wallet_key)["message"]
    # when
    response = siwe.verify(message, signature)
    # then
    assert response.status_code in (400, 401)
    assert response.json()["code"] in ("signature_invalid", "blank")


@pytest.mark.parametrize(
    "message",
    [
        "hello",
        "swap.example wants you to sign in with your Ethereum account:\n0xnotanaddress\n",
        "",
    ],
)
def test_verify_malformed_message_is_refused(siwe, message):
    # when
    response = siwe.verify(message, "0x" + "11" * 65)
    # then
    assert response.status_code == 400
    assert response.json()["code"] in ("message_malformed", "blank")


def test_verify_message_with_a_lowercase_address_is_malformed(siwe, wallet_key):
    # given: EIP-4361 requires the EIP-55 checksummed address
    message = siwe.nonce(wallet_key)["message"].replace(
        wallet_key.address, wallet_key.address.lower()
    )
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    _refused(response, 400, "message_malformed")


def test_verify_nonce_issued_for_another_address_is_refused(siwe, wallet_key):
    # given: the nonce was asked for someone else's address
    other = Account.create()
    nonce = siwe.nonce(other)["nonce"]
    message = _message(wallet_key, nonce=nonce)
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    _refused(response, 401, "nonce_mismatch")


def test_verify_failure_is_audited_by_ip_with_the_claimed_address_as_data(siwe, wallet_key):
    # given: a known wallet, and someone else who signs a message claiming its address
    siwe.sign_in(wallet_key)
    message = siwe.nonce(wallet_key)["message"]
    bad = sign(Account.create(), message)
    # when
    siwe.verify(message, bad)
    # then: never attached to the account the unverified message names
    event = AuditEvent.objects.get(event="sign_in_failed")
    assert event.detail == {
        "method": "siwe",
        "code": "signature_invalid",
        "claimed_address": wallet_key.address,
    }
    assert event.user is None
    assert event.ip == "127.0.0.1"
    assert bad[2:] not in str(event.detail)
    assert not AuditEvent.objects.filter(user=Wallet.objects.get().user, event="sign_in_failed")


def test_verify_failure_of_a_garbage_message_keeps_no_claimed_address(siwe):
    # when
    siwe.verify("hello\n<script>\n", "0x00")
    # then
    event = AuditEvent.objects.get(event="sign_in_failed")
    assert event.detail["claimed_address"] == ""
    assert event.user is None


def test_verify_disabled_account_is_refused(siwe, wallet_key):
    # given
    WalletFactory(address=wallet_key.address, user=UserFactory(is_active=False))
    # when
    response = siwe.sign_in(wallet_key)
    # then
    _refused(response, 403, "account_disabled")


def test_verify_when_the_chain_is_down_answers_503_for_unknown_signers(siwe, wallet_key, settings):
    # given: recovery does not match, so the contract check needs the (dead) RPC
    message = siwe.nonce(wallet_key)["message"]
    settings.CHAIN_NETWORKS = [network("local-a", CHAIN_ID, "http://127.0.0.1:9")]
    # when
    response = siwe.verify(message, sign(Account.create(), message))
    # then
    _refused(response, 503, "chain_unavailable")


def test_verify_with_a_key_works_without_the_chain(siwe, wallet_key, settings):
    # given: a key's signature is recovered offline
    message = siwe.nonce(wallet_key)["message"]
    settings.CHAIN_NETWORKS = [network("local-a", CHAIN_ID, "http://127.0.0.1:9")]
    # when
    response = siwe.verify(message, sign(wallet_key, message))
    # then
    assert response.status_code == 200


def test_verify_only_accepts_json(api, siwe, wallet_key):
    # given: a cross-site HTML form can only send form encodings
    message = siwe.nonce(wallet_key)["message"]
    # when
    response = api.post(
        "/api/v1/auth/siwe/verify", {"message": message, "signature": sign(wallet_key, message)}
    )
    # then
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


# ------------------------------------------------------------------- contract wallet


@pytest.fixture
def contract_wallet(anvil):
    """A tiny EIP-1271 wallet on the session anvil, owned by a fresh key."""
    from web3 import HTTPProvider, Web3

    from chains.compiler import compile_contract

    w3 = Web3(HTTPProvider(anvil.rpc_url))
    deployer = anvil_dev_account(0)
    owner = Account.create()
    compiled = compile_contract("test/Erc1271Wallet")
    factory = w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    tx = factory.constructor(owner.address).build_transaction(
        {
            "from": deployer.address,
            "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
            "chainId": CHAIN_ID,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(deployer.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    return receipt["contractAddress"], owner


def test_verify_contract_wallet_signed_by_its_owner_signs_in(siwe, contract_wallet):
    # given
    address, owner = contract_wallet
    message = siwe.nonce(address)["message"]
    # when
    response = siwe.verify(message, sign(owner, message))
    # then
    assert response.status_code == 200, response.content
    assert response.json()["user"]["wallets"][0]["address"] == address


def test_verify_contract_wallet_signed_by_another_key_is_refused(siwe, contract_wallet):
    # given
    address, _owner = contract_wallet
    message = siwe.nonce(address)["message"]
    # when
    response = siwe.verify(message, sign(Account.create(), message))
    # then
    _refused(response, 401, "signature_invalid")


# ------------------------------------------------------------------------- link


def test_link_adds_an_address_to_the_signed_in_account(siwe, wallet_key):
    # given
    user_id = siwe.sign_in(wallet_key).json()["user"]["id"]
    second = Account.create()
    message = siwe.nonce(second)["message"]
    # when
    response = siwe.verify(message, sign(second, message), path="link")
    # then
    assert response.status_code == 201, response.content
    assert response.json()["wallet"]["address"] == second.address
    assert set(Wallet.objects.filter(user_id=user_id).values_list("address", flat=True)) == {
        wallet_key.address,
        second.address,
    }
    assert AuditEvent.objects.filter(user_id=user_id, event="wallet_linked").count() == 1


def test_link_an_address_of_another_account_is_refused(siwe, wallet_key):
    # given: the address belongs to someone else
    taken = Account.create()
    WalletFactory(address=taken.address)
    siwe.sign_in(wallet_key)
    message = siwe.nonce(taken)["message"]
    # when
    response = siwe.verify(message, sign(taken, message), path="link")
    # then
    _refused(response, 409, "wallet_taken")


def test_link_needs_a_signed_in_user(siwe, wallet_key):
    # given
    message = siwe.nonce(wallet_key)["message"]
    # when
    response = siwe.verify(message, sign(wallet_key, message), path="link")
    # then
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_wallet_address_is_unique_whatever_its_case(wallet_key):
    # given
    from django.db import IntegrityError, transaction

    WalletFactory(address=wallet_key.address)
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        WalletFactory(address=wallet_key.address.lower())


def test_purge_task_deletes_only_long_expired_nonces():
    # given: a nonce that expired two days ago, one that expired a minute ago, one live
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import SiweNonce
    from accounts.tasks import purge_siwe_nonces

    now = timezone.now()
    for name, expires in (
        ("old", -timedelta(days=2)),
        ("recent", -timedelta(minutes=1)),
        ("live", timedelta(minutes=4)),
    ):
        SiweNonce.objects.create(
            nonce=name,
            address="0x" + "11" * 20,
            chain_id=31337,
            issued_at=now,
            expires_at=now + expires,
        )
    # when
    purge_siwe_nonces()
    # then
    assert sorted(SiweNonce.objects.values_list("nonce", flat=True)) == ["live", "recent"]


def test_verify_refuses_the_high_s_twin_of_a_valid_signature(siwe, wallet_key):
    # given: a valid signature, re-encoded with s' = N - s and the other v (EIP-2 malleability)
    from eth_account.messages import encode_defunct

    from chains.signatures import SECP256K1_N

    message = siwe.nonce(wallet_key)["message"]
    signed = wallet_key.sign_message(encode_defunct(text=message))
    r, s, v = signed.r, signed.s, signed.v
    twin = r.to_bytes(32, "big") + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    assert Account.recover_message(encode_defunct(text=message), signature=twin) == (
        wallet_key.address
    )  # what eth-account alone accepts
    # when
    response = siwe.verify(message, "0x" + twin.hex())
    # then
    _refused(response, 401, "signature_invalid")


def test_verify_refuses_long_garbage_at_once(siwe):
    # given: found by schemathesis, 4,000 digits kept the ABNF parser busy for over 20 s
    import time

    started = time.monotonic()
    # when
    response = siwe.verify("0" * 4000, "0")
    # then
    _refused(response, 400, "message_malformed")
    assert time.monotonic() - started < 2
