import pytest
from django.test import override_settings

from chains.anvil import free_port, start_anvil

pytestmark = pytest.mark.django_db

LOCAL = {
    "confirmations": 1,
    "block_time": 1,
    "explorer_url": "",
    "native_symbol": "ETH",
    "enabled": True,
}


def test_health_live_answers_without_touching_dependencies(client, django_assert_num_queries):
    # when
    with django_assert_num_queries(0):
        response = client.get("/health/live")
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@override_settings(CHAIN_NETWORKS=[])
def test_health_ready_reports_each_dependency_with_status_and_latency(client):
    # when
    response = client.get("/health/ready")
    # then
    assert response.status_code == 200
    checks = response.json()["checks"]
    for name in ("database", "cache", "channel_layer", "broker"):
        assert checks[name]["status"] == "ok", checks[name]
        assert checks[name]["required"] is True
        assert isinstance(checks[name]["latency_ms"], float)
    assert response["Cache-Control"].startswith("max-age=0")


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_health_ready_is_503_when_the_broker_is_unreachable(client):
    # given: a broker URL nobody listens on
    # when
    response = client.get("/health/ready")
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["status"] == "fail"
    assert body["checks"]["database"]["status"] == "ok"


def test_health_ready_probes_each_configured_chain():
    # given: one live anvil chain and one RPC URL where nothing listens
    from django.test import Client

    with start_anvil(port=free_port(), chain_id=31337) as anvil:
        networks = [
            {"name": "up", "chain_id": 31337, "rpc_url": anvil.rpc_url, **LOCAL},
            {
                "name": "down",
                "chain_id": 31338,
                "rpc_url": f"http://127.0.0.1:{free_port()}",
                **LOCAL,
            },
            {"name": "wrong", "chain_id": 1, "rpc_url": anvil.rpc_url, **LOCAL},
        ]
        with override_settings(CHAIN_NETWORKS=networks, HEALTH_CHAINS_REQUIRED=False):
            optional = Client().get("/health/ready")
        with override_settings(CHAIN_NETWORKS=networks, HEALTH_CHAINS_REQUIRED=True):
            required = Client().get("/health/ready")
    # then: a down chain degrades readiness unless chains are required
    checks = optional.json()["checks"]
    assert checks["chain:up"]["status"] == "ok"
    assert "head block" in checks["chain:up"]["detail"]
    assert checks["chain:down"]["status"] == "fail"
    assert checks["chain:wrong"]["status"] == "fail"
    assert "expected 1" in checks["chain:wrong"]["detail"]
    assert optional.status_code == 200
    assert optional.json()["status"] == "degraded"
    assert required.status_code == 503


def test_health_ready_uses_postgres_and_redis_when_configured(client, postgres_url, redis_url):
    # when
    checks = client.get("/health/ready").json()["checks"]
    # then
    assert checks["database"]["detail"] == "postgresql"
    assert checks["cache"]["detail"] == "RedisCache"
    assert checks["channel_layer"]["detail"] == "RedisChannelLayer"
    assert checks["broker"]["detail"] == "redis"
