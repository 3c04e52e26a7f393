"""Finding 12 (names): no bidi controls, no lookalikes of staff, reserved or other users' names."""

from __future__ import annotations

import pytest

from accounts.names import bad_characters, name_key
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _rename(client, user, name):
    client.force_login(user)
    return client.patch("/api/v1/me", {"display_name": name}, content_type="application/json")


@pytest.mark.parametrize(
    "name", ["admin", "ADMIN", "Аdmin", "adm1n", "ａｄｍｉｎ", "𝐚𝐝𝐦𝐢𝐧", "Support"]
)
def test_reserved_names_and_their_lookalikes_are_refused(client, name):
    # when
    response = _rename(client, UserFactory(), name)
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "name_reserved"


@pytest.mark.parametrize("name", ["evil\u202egnp.exe", "a\u200bb", "x\u2066y\u2069", "bob\u0007"])
def test_bidi_and_invisible_characters_are_refused(client, name):
    # when
    response = _rename(client, UserFactory(), name)
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "name_invalid_characters"


def test_a_lookalike_of_a_staff_members_username_is_refused(client):
    # given
    UserFactory(username="carol.ops", is_staff=True)
    # when
    response = _rename(client, UserFactory(), "CAROL.OPS")
    # then
    assert response.json()["code"] == "name_reserved"


def test_a_lookalike_of_another_makers_name_is_refused(client):
    # given: an established maker
    UserFactory(display_name="Satoshi Trades")
    # when: Cyrillic а and о, and a zero
    response = _rename(client, UserFactory(), "Sаtоshi Trades")
    other = _rename(client, UserFactory(), "S4toshi Trades")
    # then
    assert response.json()["code"] == "name_taken"
    assert other.status_code == 200


def test_a_user_may_keep_or_recase_their_own_name(client):
    # given
    user = UserFactory(display_name="Dana")
    # when
    response = _rename(client, user, "DANA")
    # then
    assert response.status_code == 200
    assert response.json()["display_name"] == "DANA"


def test_ordinary_unicode_names_are_accepted(client):
    # when
    bengali = _rename(client, UserFactory(), "রাহুল")
    accented = _rename(client, UserFactory(), "José Müller")
    # then
    assert bengali.status_code == 200 and accented.status_code == 200


def test_name_key_matches_tr39_lookalikes():
    # then
    assert name_key("mary") == name_key("rnary")
    assert name_key("paypal") == name_key("pаypаl")
    assert name_key("alice") != name_key("bob")
    assert bad_characters("ok") == []
    assert bad_characters("a\u0301\u0301\u0301\u0301") == ["U+0301", "U+0301"]
