"""Reputation: written only by reputation_update (the swaps app), shown on the profile and API."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from accounts import selectors, services
from accounts.models import Reputation
from accounts.selectors import ReputationSummary
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

JOINED = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


def _figures(**changes) -> dict:
    figures = {
        "completed_swaps": 12,
        "volume_usd": Decimal("1234.50"),
        "refunded_swaps": 2,
        "disputes_opened": 1,
        "disputes_lost": 0,
    }
    return {**figures, **changes}


def test_reputation_get_is_all_zeros_without_a_row():
    # given
    user = UserFactory(date_joined=JOINED)
    # when
    summary = selectors.reputation_get(user=user)
    # then
    assert summary == ReputationSummary(0, Decimal("0.00"), 0, 0, 0, JOINED)


def test_reputation_update_creates_the_row_that_reputation_get_reads():
    # given
    user = UserFactory(date_joined=JOINED)
    # when
    services.reputation_update(user=user, **_figures())
    # then
    assert selectors.reputation_get(user=user) == ReputationSummary(
        completed_swaps=12,
        volume_usd=Decimal("1234.50"),
        refunded_swaps=2,
        disputes_opened=1,
        disputes_lost=0,
        member_since=JOINED,
    )


def test_reputation_update_replaces_the_figures_and_keeps_one_row():
    # given
    user = UserFactory()
    services.reputation_update(user=user, **_figures())
    # when
    services.reputation_update(
        user=user, **_figures(completed_swaps=13, volume_usd=Decimal("1300"), disputes_lost=1)
    )
    # then
    assert Reputation.objects.filter(user=user).count() == 1
    summary = selectors.reputation_get(user=user)
    assert (summary.completed_swaps, summary.volume_usd, summary.disputes_lost) == (
        13,
        Decimal("1300.00"),
        1,
    )


def test_reputation_update_leaves_other_users_alone():
    # given
    user, other = UserFactory(), UserFactory()
    services.reputation_update(user=other, **_figures(completed_swaps=3))
    # when
    services.reputation_update(user=user, **_figures(completed_swaps=7))
    # then
    assert selectors.reputation_get(user=other).completed_swaps == 3


@pytest.mark.parametrize(
    ("volume", "stored"),
    [
        (Decimal("12.345"), Decimal("12.35")),
        (Decimal("12.344999"), Decimal("12.34")),
        (Decimal("0.004"), Decimal("0.00")),
        (Decimal("123456789012.34"), Decimal("123456789012.34")),
        (250, Decimal("250.00")),
    ],
)
def test_reputation_update_stores_volume_to_the_cent(volume, stored):
    # given
    user = UserFactory()
    # when
    services.reputation_update(user=user, **_figures(volume_usd=volume))
    # then
    assert Reputation.objects.get(user=user).volume_usd == stored
    assert selectors.reputation_get(user=user).volume_usd == stored


@pytest.mark.postgres
def test_reputation_update_keeps_the_largest_volume_exactly_on_postgresql(postgres_url):
    # given: numeric(30, 2) at its limit (SQLite keeps only ~15 significant digits)
    user = UserFactory()
    largest = Decimal("9999999999999999999999999999.99")
    # when
    services.reputation_update(user=user, **_figures(volume_usd=largest))
    # then
    assert selectors.reputation_get(user=user).volume_usd == largest


@pytest.mark.parametrize(
    "bad",
    [
        {"volume_usd": 12.5},
        {"volume_usd": Decimal("-0.01")},
        {"volume_usd": Decimal("NaN")},
        {"volume_usd": Decimal("Infinity")},
        {"volume_usd": Decimal("9999999999999999999999999999.995")},
        {"volume_usd": "12.50"},
        {"volume_usd": True},
        {"completed_swaps": -1},
        {"refunded_swaps": 1.0},
        {"disputes_opened": "1"},
        {"disputes_lost": True},
    ],
)
def test_reputation_update_refuses_figures_that_cannot_come_from_swap_records(bad):
    # given
    user = UserFactory()
    # when / then
    with pytest.raises(ValueError):
        services.reputation_update(user=user, **_figures(**bad))
    assert not Reputation.objects.filter(user=user).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reputation_update_concurrently_for_a_new_user_keeps_one_row(postgres_url):
    # given: eight recomputations for a user without a row, released at once
    user = UserFactory()
    barrier = threading.Barrier(8, timeout=20)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            services.reputation_update(user=user, **_figures(completed_swaps=n))
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    # when
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then
    assert errors == []
    assert Reputation.objects.filter(user=user).count() == 1
    assert Reputation.objects.get(user=user).completed_swaps in range(8)


def test_me_api_shows_the_reputation(client):
    # given
    user = UserFactory(date_joined=JOINED)
    services.reputation_update(user=user, **_figures())
    client.force_login(user)
    # when
    body = client.get("/api/v1/me").json()
    # then
    assert body["reputation"] == {
        "completed_swaps": 12,
        "volume_usd": "1234.50",
        "refunded_swaps": 2,
        "failed_swaps": 0,
        "abandoned_swaps": 0,
        "disputes_opened": 1,
        "disputes_lost": 0,
        "member_since": "2026-03-14T09:26:53Z",
    }


def test_me_api_shows_a_clean_record_before_the_first_swap(client):
    # given
    user = UserFactory(date_joined=JOINED)
    client.force_login(user)
    # when
    body = client.get("/api/v1/me").json()
    # then
    assert body["reputation"] == {
        "completed_swaps": 0,
        "volume_usd": "0.00",
        "refunded_swaps": 0,
        "failed_swaps": 0,
        "abandoned_swaps": 0,
        "disputes_opened": 0,
        "disputes_lost": 0,
        "member_since": "2026-03-14T09:26:53Z",
    }


def test_me_api_cannot_change_the_reputation(client):
    # given
    user = UserFactory()
    client.force_login(user)
    # when
    response = client.patch(
        "/api/v1/me",
        {"display_name": "Ada", "reputation": {"completed_swaps": 999}},
        content_type="application/json",
    )
    # then
    assert response.status_code == 200
    assert response.json()["reputation"]["completed_swaps"] == 0
    assert not Reputation.objects.filter(user=user).exists()


def test_profile_page_shows_the_reputation(client):
    # given
    user = UserFactory(date_joined=JOINED)
    services.reputation_update(
        user=user, **_figures(completed_swaps=41, refunded_swaps=3, disputes_opened=5)
    )
    client.force_login(user)
    # when
    html = client.get("/profile/").content.decode()
    # then
    assert '<dd data-field="completed_swaps">41</dd>' in html
    assert '<dd data-field="volume_usd">1234.50 USD</dd>' in html
    assert '<dd data-field="refunded_swaps">3</dd>' in html
    assert '<dd data-field="disputes_opened">5</dd>' in html
    assert '<dd data-field="disputes_lost">0</dd>' in html
    assert 'datetime="2026-03-14T09:26:53+00:00"' in html


def test_reputation_admin_lists_rows_and_refuses_every_edit(client):
    # given
    staff = UserFactory(is_staff=True, is_superuser=True)
    user = UserFactory(username="maker-ada")
    services.reputation_update(user=user, **_figures())
    client.force_login(staff)
    base = "/admin/accounts/reputation/"
    # when
    listing = client.get(base)
    detail = client.get(f"{base}{user.pk}/change/")
    add = client.get(f"{base}add/")
    change = client.post(f"{base}{user.pk}/change/", {"completed_swaps": 999})
    delete = client.post(f"{base}{user.pk}/delete/", {"post": "yes"})
    # then
    assert listing.status_code == 200 and "maker-ada" in listing.content.decode()
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    assert Reputation.objects.get(user=user).completed_swaps == 12


def test_openapi_documents_the_reputation_of_me(client):
    # when
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    # then
    ok = schema["paths"]["/api/v1/me"]["get"]["responses"]["200"]
    user_ref = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    reputation = schema["components"]["schemas"][user_ref]["properties"]["reputation"]
    ref = reputation["allOf"][0]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {
        "completed_swaps",
        "volume_usd",
        "refunded_swaps",
        "failed_swaps",
        "abandoned_swaps",
        "disputes_opened",
        "disputes_lost",
        "member_since",
    }
