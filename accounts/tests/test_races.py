"""Races on PostgreSQL with real threads (each thread has its own connection)."""

from __future__ import annotations

import threading

import pytest
from eth_account import Account

from accounts import services
from accounts.models import SiweNonce, User, Wallet
from accounts.tests.conftest import CHAIN_ID, sign
from chains import signatures
from testing.support import race


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_siwe_same_nonce_concurrently_signs_in_only_once(postgres_url, monkeypatch):
    # given: two verifies of one signed message, both past every check before either consumes
    key = Account.create()
    _nonce, message = services.siwe_nonce_issue(address=key.address, chain_id=CHAIN_ID)
    signature = sign(key, message)
    barrier = threading.Barrier(2, timeout=20)
    original = signatures.personal_signature_is_valid

    def checked_then_wait(**kwargs):
        valid = original(**kwargs)
        barrier.wait()
        return valid

    monkeypatch.setattr(signatures, "personal_signature_is_valid", checked_then_wait)
    # when
    results = race(2, lambda _: services.siwe_sign_in(message=message, signature=signature))
    # then
    users = [r for r in results if isinstance(r, User)]
    assert len(users) == 1, results
    assert "nonce_used" in results
    assert SiweNonce.objects.get().used_at is not None
    assert Wallet.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_siwe_first_sign_ins_of_one_address_concurrently_make_one_account(postgres_url):
    # given: two nonces for the same new address
    key = Account.create()
    signed = []
    for _ in range(2):
        _nonce, message = services.siwe_nonce_issue(address=key.address, chain_id=CHAIN_ID)
        signed.append((message, sign(key, message)))
    turn = iter(signed)
    lock = threading.Lock()
    barrier = threading.Barrier(2, timeout=20)

    def sign_in():
        with lock:
            message, signature = next(turn)
        barrier.wait()
        return services.siwe_sign_in(message=message, signature=signature)

    # when
    results = race(2, lambda _: sign_in())
    # then
    assert all(isinstance(r, User) for r in results), results
    assert results[0].pk == results[1].pk
    assert User.objects.count() == 1 and Wallet.objects.count() == 1
