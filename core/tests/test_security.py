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
    "EMAIL_URL": "smtp+tls://mailer:pw@mail.example.com:587",
    "METRICS_TOKEN": "m" * 32,
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
}


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    unset = {*PROD_ENV, "REDIS_URL", "JWT_SIGNING_KEY"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
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


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "EMAIL_URL", "METRICS_TOKEN"]
)
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


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"EMAIL_URL": "consolemail://"}, "EMAIL_URL must name a real mail server"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16"),
        ({"JWT_SIGNING_KEY": "x" * 31}, "JWT_SIGNING_KEY must be at least 32 bytes"),
    ],
)
def test_prod_settings_refuse_weak_mail_metrics_or_jwt_settings(override, message):
    # when
    result = _manage("check", env={**PROD_ENV, **override})
    # then
    assert result.returncode != 0
    assert message in result.stderr


def test_deploy_check_reports_console_mail_missing_metrics_token_and_short_jwt_key(settings):
    # given: dev-like settings
    from django.core import checks

    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    settings.METRICS_TOKEN = ""
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": "short"}
    settings.STAFF_MFA_REQUIRED = False
    # when
    found = {m.id for m in checks.run_checks(include_deployment_checks=True)}
    # then
    assert {"core.E001", "core.E002", "accounts.E001", "accounts.W001"} <= found


def test_deploy_check_passes_with_real_mail_a_token_and_a_long_key(settings):
    # given
    from django.core import checks

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.METRICS_TOKEN = "t" * 32
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": "k" * 32}
    settings.STAFF_MFA_REQUIRED = True
    # when
    found = {m.id for m in checks.run_checks(include_deployment_checks=True)}
    # then
    assert not found & {"core.E001", "core.E002", "accounts.E001", "accounts.W001"}


def test_csp_connect_src_lists_exact_hosts_only(client):
    # when
    csp = client.get("/")["Content-Security-Policy"]
    connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src")).split()[1:]
    # then: no bare scheme (ws:, wss:, https:) and no wildcard host
    assert connect[0] == "'self'"
    assert all("://" in source for source in connect[1:]), connect
    assert not any("*" in source for source in connect)


def test_connect_sources_are_the_site_the_public_rpcs_and_walletconnect():
    # given
    from config.settings.base import connect_sources

    networks = [
        {"enabled": True, "public_rpc_url": "https://rpc.example.org/v1/key"},
        {"enabled": False, "public_rpc_url": "https://disabled.example.org"},
        {"enabled": True, "public_rpc_url": ""},
    ]
    # when
    plain = connect_sources("https://swap.example", networks, walletconnect=False)
    wc = connect_sources("https://swap.example", networks, walletconnect=True)
    # then
    assert plain == ["'self'", "wss://swap.example", "https://rpc.example.org"]
    assert "wss://relay.walletconnect.org" in wc
    assert not any("*" in source for source in wc)


def test_prod_csp_drops_the_disabled_local_chains():
    # when
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; "
        "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'])",
        env={**PROD_ENV, "SITE_URL": "https://market.example.com"},
    )
    # then
    assert result.returncode == 0, result.stderr
    assert "127.0.0.1" not in result.stdout
    assert "wss://market.example.com" in result.stdout
