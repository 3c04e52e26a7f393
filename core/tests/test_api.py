import json

import pytest
from django.db import InterfaceError, OperationalError
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework import exceptions, serializers
from rest_framework.test import APIClient

from core.api.errors import exception_handler

pytestmark = pytest.mark.django_db

NETWORK = {
    "chain_id": 1,
    "rpc_url": "http://127.0.0.1:9",
    "confirmations": 1,
    "block_time": 1,
    "explorer_url": "",
    "native_symbol": "ETH",
    "enabled": True,
}


@pytest.fixture
def api():
    return APIClient()


def test_api_root_lists_the_schema_and_docs(api):
    # when
    response = api.get("/api/v1/")
    # then
    assert response.status_code == 200
    assert response.json()["schema"] == "/api/schema/"
    assert response.json()["docs"] == "/api/docs/"


def test_unknown_api_path_is_a_json_404_even_in_debug(api, settings):
    # given
    settings.DEBUG = True
    # when
    response = api.get("/api/v1/no-such-thing/")
    # then
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_wrong_method_has_the_error_shape(api):
    # when
    response = api.delete("/api/v1/chains/")
    # then
    assert response.status_code == 405
    assert response.json() == {
        "detail": 'Method "DELETE" not allowed.',
        "code": "method_not_allowed",
    }


def test_lists_are_paginated(api):
    # given: 25 networks
    networks = [{**NETWORK, "name": f"n{i}", "chain_id": i} for i in range(25)]
    with override_settings(CHAIN_NETWORKS=networks):
        # when
        first = api.get("/api/v1/chains/").json()
        second = api.get("/api/v1/chains/?page=2&page_size=10").json()
        beyond = api.get("/api/v1/chains/?page=9")
    # then
    assert first["count"] == 25
    assert len(first["results"]) == 20
    assert first["next"].endswith("/api/v1/chains/?page=2")
    assert first["previous"] is None
    assert [n["name"] for n in second["results"]] == [f"n{i}" for i in range(10, 20)]
    assert beyond.status_code == 404
    assert beyond.json()["code"] == "not_found"


def test_throttled_requests_get_429_with_retry_after(api, settings):
    # given: three anonymous requests a minute
    settings.API_THROTTLE_RATES = {**settings.API_THROTTLE_RATES, "anon": "3/minute"}
    from testing.support import clear_run_cache

    clear_run_cache()  # this run's throttle counters
    # when
    statuses = [api.get("/api/v1/").status_code for _ in range(4)]
    response = api.get("/api/v1/")
    # then
    assert statuses == [200, 200, 200, 429]
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "throttled"
    assert body["retry_after"] == int(response["Retry-After"])
    assert "detail" in body


class _Input(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)


def test_validation_errors_keep_the_shape_and_list_fields():
    # given
    serializer = _Input(data={"amount": "1.234"})
    # when
    try:
        serializer.is_valid(raise_exception=True)
    except exceptions.ValidationError as exc:
        response = exception_handler(exc, {})
    # then
    assert response.status_code == 400
    assert response.data["detail"] == "Invalid input."
    assert response.data["code"] == "max_decimal_places"
    assert response.data["fields"]["amount"][0]["code"] == "max_decimal_places"


def test_unexpected_errors_are_a_500_without_internals():
    # when
    response = exception_handler(RuntimeError("db password=abc"), {})
    # then
    assert response.status_code == 500
    assert response.data == {
        "detail": "Something went wrong on our side. Please retry.",
        "code": "server_error",
    }


@pytest.mark.parametrize(
    "lost",
    [
        OperationalError("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),
        RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
    ],
    ids=["database restarting", "database connection closed", "redis down"],
)
def test_a_lost_database_or_redis_connection_is_a_503_to_retry_not_a_500(lost):
    # when: a view's query or cache call finds its connection gone
    response = exception_handler(lost, {})
    # then: the client is told to come back, in the API's error shape
    assert response.status_code == 503
    assert response.data["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"
    assert "127.0.0.1" not in response.data["detail"]


def test_schema_is_openapi_3_and_documents_the_api(api):
    # when
    response = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    # then
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/chains/" in schema["paths"]


def test_docs_page_loads_its_assets_from_this_site(client):
    # when
    response = client.get("/api/docs/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn." not in html


@pytest.mark.parametrize("path", ["/api/v1/swaps/", "/market/"], ids=["api", "page"])
def test_a_lost_connection_outside_a_view_is_a_503_and_a_bug_stays_a_500(rf, path):
    from core.views import server_error

    # given: Django answering an exception raised in a middleware (handler500 runs inside
    # its except block, as django.core.handlers.exception does)
    request = rf.get(path)
    try:
        raise OperationalError("consuming input failed: server closed the connection")
    except OperationalError:
        lost = server_error(request)
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        bug = server_error(request)
    # then
    assert lost.status_code == 503
    assert lost["Retry-After"] == "5"
    assert bug.status_code == 500
    if path.startswith("/api/"):
        assert json.loads(lost.content)["code"] == "service_unavailable"
        assert json.loads(bug.content)["code"] == "server_error"
