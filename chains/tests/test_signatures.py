from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from chains import signatures
from chains.interface import ChainUnavailable
from chains.networks import Network

MESSAGE = "example.org wants you to sign in"


def _network(rpc_url: str, chain_id: int = 31337) -> Network:
    return Network("local-a", chain_id, rpc_url, rpc_url, 1, 1, "", "ETH")


def _sig(key, message: str = MESSAGE) -> str:
    return "0x" + key.sign_message(encode_defunct(text=message)).signature.hex()


def test_recover_personal_signer_finds_the_key():
    # given
    key = Account.create()
    # when
    signer = signatures.recover_personal_signer(MESSAGE, bytes.fromhex(_sig(key)[2:]))
    # then
    assert signer == key.address


@pytest.mark.parametrize("raw", [b"", b"\x00" * 64, b"\x00" * 65, b"\xff" * 65])
def test_recover_personal_signer_of_garbage_is_none(raw):
    assert signatures.recover_personal_signer(MESSAGE, raw) is None


@pytest.mark.parametrize("text", ["", "0x", "abcd", "0xzz", 5])
def test_parse_signature_refuses_non_hex(text):
    assert signatures.parse_signature(text) is None


def test_personal_signature_of_a_key_needs_no_rpc():
    # given: an RPC nobody listens on
    key = Account.create()
    network = _network("http://127.0.0.1:9")
    # when
    valid = signatures.personal_signature_is_valid(
        network=network, address=key.address, message=MESSAGE, signature=_sig(key)
    )
    # then
    assert valid is True


def test_personal_signature_of_another_key_asks_the_chain_and_fails_when_it_is_down():
    # given
    key, other = Account.create(), Account.create()
    # when / then
    with pytest.raises(ChainUnavailable):
        signatures.personal_signature_is_valid(
            network=_network("http://127.0.0.1:9"),
            address=key.address,
            message=MESSAGE,
            signature=_sig(other),
        )


@pytest.mark.slow
def test_eip1271_wallet_accepts_its_owner_and_refuses_others(anvil_chain, anvil_node):
    # given: a contract wallet owned by a fresh key
    owner, stranger = Account.create(), Account.create()
    wallet = anvil_chain.deploy("test/Erc1271Wallet", owner.address, sender=anvil_chain.accounts[0])
    network = _network(anvil_node.rpc_url)
    # when
    by_owner = signatures.personal_signature_is_valid(
        network=network, address=wallet.address, message=MESSAGE, signature=_sig(owner)
    )
    by_stranger = signatures.personal_signature_is_valid(
        network=network, address=wallet.address, message=MESSAGE, signature=_sig(stranger)
    )
    # then
    assert signatures.has_code(network, wallet.address)
    assert (by_owner, by_stranger) == (True, False)


@pytest.mark.slow
def test_eip1271_on_a_contract_without_the_method_is_false(anvil_chain, anvil_node):
    # given: a contract that does not implement isValidSignature
    other = anvil_chain.deploy("test/RejectEther", sender=anvil_chain.accounts[0])
    network = _network(anvil_node.rpc_url)
    digest = signatures.personal_message_hash(MESSAGE)
    # when / then
    assert signatures.eip1271_is_valid(network, other.address, digest, b"\x00" * 65) is False


def test_checksum_address_normalises_or_refuses():
    # when / then
    lower = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert signatures.checksum_address(lower) == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert signatures.checksum_address("0x1234") is None
