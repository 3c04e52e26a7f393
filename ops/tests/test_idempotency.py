"""Idempotency-Key: a retry gets the first answer, a reused key is refused, one execution."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from core.api.idempotency import idempotency_keys_purge
from core.models import IdempotencyKey
from ops.models import BackupRun
from testing.support import race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls("ops.tests.urls")]


def _client(user=None) -> APIClient:
    client = APIClient()
    client.force_authenticate(user or UserFactory())
    return client


def _pay(client, body: dict, key: str | None = "k-1", path: str = "/pay/"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(path, body, format="json", **headers)


def test_same_key_and_body_returns_the_first_answer_without_running_again():
    # given
    client = _client()
    first = _pay(client, {"what": "1 ETH"})
    # when
    retry = _pay(client, {"what": "1 ETH"})
    # then
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert BackupRun.objects.count() == 1


def test_without_the_header_every_request_runs():
    client = _client()
    _pay(client, {"what": "1 ETH"}, key=None)
    _pay(client, {"what": "1 ETH"}, key=None)
    assert BackupRun.objects.count() == 2
    assert not IdempotencyKey.objects.exists()


def test_same_key_with_another_body_or_endpoint_is_refused_with_422():
    # given
    client = _client()
    _pay(client, {"what": "1 ETH"})
    # when
    other_body = _pay(client, {"what": "2 ETH"})
    other_path = _pay(client, {"what": "1 ETH"}, path="/pay-again/")
    # then
    for answer in (other_body, other_path):
        assert answer.status_code == 422
        assert answer.json()["code"] == "idempotency_key_reused"
    assert BackupRun.objects.count() == 1


def test_the_same_key_belongs_to_each_user_apart():
    _pay(_client(), {"what": "1 ETH"})
    second = _pay(_client(), {"what": "1 ETH"})
    assert second.status_code == 201 and not second.has_header("Idempotent-Replayed")
    assert BackupRun.objects.count() == 2


def test_a_malformed_key_is_refused():
    answer = _pay(_client(), {"what": "1 ETH"}, key="x" * 256)
    assert (answer.status_code, answer.json()["code"]) == (400, "idempotency_key_invalid")
    assert BackupRun.objects.count() == 0


def test_a_refusal_is_replayed_like_any_answer():
    client = _client()
    first = _pay(client, {"what": "1 ETH", "fail": "refused"})
    retry = _pay(client, {"what": "1 ETH", "fail": "refused"})
    assert first.status_code == retry.status_code == 409
    assert (
        retry.json()
        == first.json()
        == {"detail": "Not enough funds.", "code": "insufficient_funds"}
    )
    assert retry["Idempotent-Replayed"] == "true"


def test_a_server_error_stores_nothing_and_the_retry_runs_afresh():
    # given: the first attempt fails with a 500 after writing
    client = _client()
    failed = _pay(client, {"what": "1 ETH", "fail": "server"})
    assert failed.status_code == 500
    # then: its write was rolled back with it, and the key is free
    assert BackupRun.objects.count() == 0
    assert not IdempotencyKey.objects.exists()
    # when: the client retries (the server is fine now: same key, other outcome wanted)
    retry = _pay(client, {"what": "1 ETH", "fail": "server"})
    assert retry.status_code == 500 and BackupRun.objects.count() == 0


def test_an_expired_key_counts_as_new_and_is_purged():
    # given
    client = _client()
    _pay(client, {"what": "1 ETH"})
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    # when
    again = _pay(client, {"what": "1 ETH"})
    # then
    assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
    assert BackupRun.objects.count() == 2
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_keys_purge() == 1


def _concurrent(n: int, key: str | None):
    user = UserFactory()

    def send(i: int):
        answer = _pay(_client(user), {"what": "1 ETH", "delay": "0.5"}, key=key)
        return answer.status_code, answer.json(), answer.has_header("Idempotent-Replayed")

    return race(n, send)


def test_concurrent_duplicates_run_once_and_all_get_the_first_answer(postgres_url):
    if connection.vendor != "postgresql":
        pytest.skip("the race is run against PostgreSQL")
    # given: without a key, four simultaneous duplicates all run (what the key prevents)
    assert len({r[1]["paid"] for r in _concurrent(4, key=None)}) == 4
    BackupRun.objects.all().delete()
    # when: four simultaneous duplicates carry the same key
    results = _concurrent(4, key="pay-once")
    # then: one execution; every caller got its answer, three as replays
    assert BackupRun.objects.count() == 1
    assert {(status, body["paid"]) for status, body, _ in results} == {
        (201, BackupRun.objects.get().pk)
    }
    assert sorted(replayed for *_, replayed in results) == [False, True, True, True]
