"""Finding 1 and 10: the client address comes from the trusted-proxy settings alone."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from core.client_ip import client_ip

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_throttles():
    """Throttle counters live in the cache: each test starts with none."""
    from testing.support import clear_run_cache

    clear_run_cache()
    yield
    clear_run_cache()


def _request(remote: str = "198.51.100.7", xff: str | None = None, **headers):
    meta = {"REMOTE_ADDR": remote, **headers}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


def test_client_ip_ignores_forwarded_headers_by_default(settings):
    # given
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXY_NETWORKS = 0, []
    # when
    ip = client_ip(_request(xff="1.2.3.4", HTTP_X_REAL_IP="5.6.7.8"))
    # then
    assert ip == "198.51.100.7"


def test_client_ip_takes_the_address_our_outermost_proxy_saw(settings):
    # given: two proxies; the client forged a first entry
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXY_NETWORKS = 2, []
    # when
    ip = client_ip(_request(remote="10.0.0.2", xff="6.6.6.6, 203.0.113.5, 10.0.0.1"))
    # then
    assert ip == "203.0.113.5"


def test_client_ip_walks_trusted_networks_from_the_right(settings):
    # given
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXY_NETWORKS = 0, ["10.0.0.0/8"]
    # when
    behind = client_ip(_request(remote="10.0.0.2", xff="6.6.6.6, 203.0.113.5, 10.0.0.1"))
    direct = client_ip(_request(remote="203.0.113.9", xff="1.1.1.1"))
    garbage = client_ip(_request(remote="10.0.0.2", xff="not-an-ip"))
    # then: a peer outside the networks is the client, whatever it claims
    assert behind == "203.0.113.5"
    assert direct == "203.0.113.9"
    assert garbage == "10.0.0.2"


def test_anonymous_api_throttle_is_not_bypassed_by_random_forwarded_for(client, settings):
    # given
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "3/minute"}
    # when: each request claims another address
    statuses = [
        client.get("/api/v1/", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(4)
    ]
    # then
    assert statuses == [200, 200, 200, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(client, settings):
    # given
    settings.TRUSTED_PROXY_COUNT = 1
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "1/minute"}
    # when
    first = client.get("/api/v1/", HTTP_X_FORWARDED_FOR="203.0.113.1")
    other = client.get("/api/v1/", HTTP_X_FORWARDED_FOR="203.0.113.2")
    again = client.get("/api/v1/", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.1")
    # then
    assert (first.status_code, other.status_code, again.status_code) == (200, 200, 429)


def test_allauth_uses_the_same_client_ip(rf, settings):
    # given
    from allauth.account.adapter import get_adapter

    settings.TRUSTED_PROXY_COUNT = 1
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.77")
    # when / then
    assert get_adapter(request).get_client_ip(request) == "203.0.113.77"


def test_metrics_refuse_a_loopback_peer_forwarding_for_a_remote_client(client):
    # given: a same-host reverse proxy, no trusted-proxy settings and no token
    # when
    real_ip = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.9")
    xff = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    forwarded = client.get("/metrics", REMOTE_ADDR="::1", HTTP_FORWARDED="for=203.0.113.9")
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    # then
    assert [real_ip.status_code, xff.status_code, forwarded.status_code] == [403, 403, 403]
    assert local.status_code == 200


def test_metrics_behind_a_trusted_proxy_use_the_real_client(client, settings):
    # given
    settings.TRUSTED_PROXY_NETWORKS = ["127.0.0.0/8"]
    # when
    remote = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    # then
    assert remote.status_code == 403
    assert local.status_code == 200


def test_make_run_serves_without_uvicorn_rewriting_the_peer_address():
    # given
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "config" / "devstack.py").read_text()
    # then: uvicorn trusts X-Forwarded-For from loopback unless told not to
    assert '"--no-proxy-headers"' in source
