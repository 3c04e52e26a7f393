"""Finding 2: staff sign in through one protected path (lockout with Retry-After, 2FA)."""

from __future__ import annotations

import time

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from django.test import Client

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pass-word-2026"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(autouse=True)
def _open_limits(settings):
    """allauth's own per-minute limits out of the way: the lockout is what is tested."""
    settings.ACCOUNT_RATE_LIMITS = {"login": False, "login_failed": False}
    settings.SIGN_IN_LOCKOUT_ACCOUNT_FAILURES = 5
    settings.SIGN_IN_LOCKOUT_IP_FAILURES = 20
    settings.SIGN_IN_LOCKOUT_SECONDS = 900


def _staff(email: str = "ops@example.com"):
    user = UserFactory(email=email, is_staff=True, is_superuser=True)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _login(client, email, password, **extra):
    return client.post("/accounts/login/", {"login": email, "password": password}, **extra)


def test_the_admin_password_form_is_gone_it_leads_to_the_protected_sign_in(client):
    # given
    _staff()
    # when: the probe's request, a password posted to /admin/login/
    posted = client.post("/admin/login/?next=/admin/", {"username": "ops", "password": "x"})
    shown = client.get("/admin/login/?next=/admin/")
    # then: no password is checked there; both lead to allauth's sign-in
    assert posted.status_code == 302
    assert posted["Location"].startswith("/accounts/login/?next=")
    assert shown["Location"].startswith("/accounts/login/?next=%2Fadmin%2F")


def test_wrong_passwords_lock_the_account_with_retry_after(client):
    # given
    _staff()
    # when
    statuses = [_login(client, "ops@example.com", f"wrong-{n}").status_code for n in range(5)]
    locked = _login(client, "ops@example.com", PASSWORD)
    # then: the right password does not help once locked
    assert statuses == [200] * 5
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 900


def test_an_account_lockout_holds_from_another_ip(client):
    # given
    _staff()
    for n in range(5):
        _login(client, "ops@example.com", f"wrong-{n}", REMOTE_ADDR="198.51.100.1")
    # when
    other_ip = _login(Client(), "ops@example.com", PASSWORD, REMOTE_ADDR="198.51.100.2")
    # then
    assert other_ip.status_code == 429


def test_one_ip_trying_many_accounts_is_locked_out(client, settings):
    # given
    settings.SIGN_IN_LOCKOUT_IP_FAILURES = 4
    # when
    for n in range(4):
        _login(client, f"user{n}@example.com", "wrong", REMOTE_ADDR="203.0.113.50")
    locked = _login(client, "someone@example.com", "wrong", REMOTE_ADDR="203.0.113.50")
    elsewhere = _login(Client(), "someone@example.com", "wrong", REMOTE_ADDR="203.0.113.51")
    # then
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert elsewhere.status_code == 200


def test_the_app_api_sign_in_is_locked_out_too(settings):
    # given
    from rest_framework.test import APIClient

    _staff()
    api = APIClient()
    body = {"email": "ops@example.com", "password": "wrong"}
    for _ in range(5):
        api.post("/_allauth/app/v1/auth/login", body, format="json")
    # when
    locked = api.post("/_allauth/app/v1/auth/login", body, format="json")
    # then
    assert locked.status_code == 429
    assert locked.json()["code"] == "sign_in_locked"
    assert int(locked["Retry-After"]) > 0


def test_a_successful_sign_in_clears_the_account_failures(client):
    # given
    _staff()
    for n in range(4):
        _login(client, "ops@example.com", f"wrong-{n}")
    # when
    ok = _login(client, "ops@example.com", PASSWORD)
    client.logout()
    again = [_login(client, "ops@example.com", "wrong").status_code for _ in range(4)]
    # then
    assert ok.status_code == 302
    assert again == [200] * 4


def _code() -> str:
    counter = int(time.time()) // 30
    return format_hotp_value(hotp_value(SECRET, counter))


def test_staff_with_totp_pass_the_second_factor_and_reach_the_admin(client, settings):
    # given: 2FA required, a staff member with an authenticator app
    settings.STAFF_MFA_REQUIRED = True
    staff = _staff()
    TOTP.activate(staff, SECRET)
    # when
    first = _login(client, "ops@example.com", PASSWORD)
    before = client.get("/admin/")
    second = client.post("/accounts/2fa/authenticate/", {"code": _code()})
    after = client.get("/admin/")
    # then
    assert first.status_code == 302 and "/accounts/2fa/authenticate/" in first["Location"]
    assert before.status_code == 302  # not signed in yet
    assert second.status_code == 302
    assert after.status_code == 200


def test_staff_without_a_second_factor_are_sent_to_set_one_up(client, settings):
    # given
    settings.STAFF_MFA_REQUIRED = True
    _staff()
    _login(client, "ops@example.com", PASSWORD)
    # when
    index = client.get("/admin/")
    login = client.get(index["Location"])
    # then
    assert index.status_code == 302
    assert login.status_code == 302 and login["Location"] == "/accounts/2fa/"


def test_a_staff_session_without_2fa_is_refused_when_required(client, settings):
    # given: signed in some other way (e.g. a wallet), 2FA set up but not used
    settings.STAFF_MFA_REQUIRED = True
    staff = _staff()
    TOTP.activate(staff, SECRET)
    client.force_login(staff)
    # when
    response = client.get("/admin/")
    # then
    assert response.status_code == 302


def test_prod_requires_staff_2fa_by_default():
    # given
    import os
    import subprocess
    import sys
    from pathlib import Path

    from core.tests.test_security import PROD_ENV

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "STAFF_MFA_REQUIRED")}
    # when
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings; print(settings.STAFF_MFA_REQUIRED)",
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, **PROD_ENV},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert done.stdout.strip().splitlines()[-1] == "True", done.stderr


@pytest.mark.parametrize(
    "path", ["/accounts/2fa/", "/accounts/2fa/totp/activate/", "/accounts/2fa/webauthn/add/"]
)
def test_the_second_factor_pages_open_for_a_signed_in_user(client, path):
    # given: signed in, and the password confirmed again (allauth asks before 2FA changes)
    _staff()
    _login(client, "ops@example.com", PASSWORD)
    client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    # when
    response = client.get(path)
    # then
    assert response.status_code == 200, response.content[:500]
    assert b"<script>" not in response.content  # no inline script: the CSP would block it
