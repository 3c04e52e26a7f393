import threading

import pytest
from celery import current_app
from django.test import override_settings

from chains.anvil import free_port, start_anvil
from core import health

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
    assert checks["channel_layer"]["detail"] == "RedisPubSubChannelLayer"
    assert checks["broker"]["detail"] == "redis"


def test_health_ready_lists_core_checks_then_each_network_in_a_stable_order(client):
    # given: two networks whose RPC nobody answers
    networks = [
        {"name": name, "chain_id": 31337 + i, "rpc_url": f"http://127.0.0.1:{free_port()}", **LOCAL}
        for i, name in enumerate(("b-net", "a-net"))
    ]
    # when
    with override_settings(CHAIN_NETWORKS=networks):
        checks = client.get("/health/ready").json()["checks"]
    # then: core's checks, then the chains' in configured network order
    assert list(checks) == [
        "database",
        "cache",
        "channel_layer",
        "broker",
        "worker_heartbeat",
        "chain:b-net",
        "watcher:b-net",
        "chain:a-net",
        "watcher:a-net",
    ]


def test_registered_checks_follow_core_checks_by_app_label_not_by_registration_order(
    monkeypatch,
):
    # given: two apps registering in reverse label order; one registers twice
    monkeypatch.setattr(health, "_providers", {})
    health.register_checks("zeta", lambda: [health.Check("zeta:one", lambda: "ok")])
    health.register_checks("alpha", lambda: [health.Check("alpha:old", lambda: "ok")])
    health.register_checks("alpha", lambda: [health.Check("alpha:one", lambda: "ok")])
    # when
    names = [check.name for check in health.checks()]
    # then
    assert names == [c.name for c in health.CORE_CHECKS] + ["alpha:one", "zeta:one"]


def test_chains_register_their_checks_when_the_app_is_ready():
    # then
    assert "chains" in health._providers


@override_settings(CHAIN_NETWORKS=[], HEALTH_CHAINS_REQUIRED=True)
def test_a_failing_optional_registered_check_degrades_and_a_required_one_fails(monkeypatch):
    # given
    def down() -> str:
        raise RuntimeError("down")

    monkeypatch.setattr(health, "_providers", {})
    health.register_checks("extra", lambda: [health.Check("extra:opt", down, required=False)])
    # when
    optional_ready, optional = health.readiness()
    health.register_checks("extra", lambda: [health.Check("extra:req", down)])
    required_ready, required = health.readiness()
    # then
    assert optional_ready and optional["status"] == "degraded"
    assert optional["checks"]["extra:opt"] == {
        "status": "fail",
        "required": False,
        "latency_ms": optional["checks"]["extra:opt"]["latency_ms"],
        "detail": "RuntimeError: down",
    }
    assert not required_ready and required["status"] == "fail"


def test_the_project_celery_app_is_current_in_every_thread():
    # given: the broker check runs in a thread of its own and reads `celery.current_app`
    seen = []
    # when
    thread = threading.Thread(target=lambda: seen.append(current_app.main))
    thread.start()
    thread.join()
    # then
    assert seen == ["p2pswap"]


def test_concurrent_readiness_calls_all_pass_the_channel_layer_check(redis_url):
    # given: probes each in an event loop of their own (async_to_sync in a fresh thread), as
    # concurrent requests run them. The list-based Redis layer let one event loop at a time
    # receive(), so the second failed: a 503 that made nginx drop the process (found by the
    # reload-under-load test); the pub/sub layer keeps one layer per event loop.
    results: list[str] = []

    def probe() -> None:
        for _ in range(5):
            try:
                results.append(health.check_channel_layer())
            except Exception as exc:
                results.append(repr(exc))

    # when
    threads = [threading.Thread(target=probe) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then: none reports the layer as failing
    assert results == ["RedisPubSubChannelLayer"] * 30
