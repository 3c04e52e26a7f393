import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "SECRET_KEY": "k" * 20 + "-unit-test-only-" + "9" * 30,
    "ALLOWED_HOSTS": "market.example.com",
    "DATABASE_URL": "postgres://app@127.0.0.1:5432/app",
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
}


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PROD_ENV and k != "REDIS_URL"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("path", ["/", "/api/v1/", "/health/live", "/api/v1/nope"])
def test_every_response_carries_security_headers(client, path):
    # when
    response = client.get(path)
    # then
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "camera=()" in response["Permissions-Policy"]


def test_state_changing_forms_need_a_csrf_token():
    # given
    browser = Client(enforce_csrf_checks=True)
    # when
    refused = browser.post("/i18n/setlang/", {"language": "bn", "next": "/"})
    page = browser.get("/")
    token = page.cookies["csrftoken"].value
    accepted = browser.post(
        "/i18n/setlang/", {"language": "bn", "next": "/", "csrfmiddlewaretoken": token}
    )
    # then
    assert refused.status_code == 403
    assert accepted.status_code == 302


def test_prod_settings_pass_the_deploy_check():
    # when
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    # then
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_prod_settings_refuse_to_start_without(missing):
    # given
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    # when
    result = _manage("check", env=env)
    # then
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_prod_settings_refuse_a_short_secret_key():
    # when
    result = _manage("check", env={**PROD_ENV, "SECRET_KEY": "short"})
    # then
    assert result.returncode != 0
    assert "at least 50" in result.stderr
