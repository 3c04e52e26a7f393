import io
import json
import logging
import time

import pytest
from celery.contrib.testing.worker import start_worker

from core.logging import bind_request_id

pytestmark = pytest.mark.django_db

SECRETS = [
    "hunter2-correct-horse",
    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "s3ss10n-cookie-value",
]


@pytest.fixture
def log_lines():
    """Send the configured stdout handler (JSON formatter and filters included) to a buffer."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "stdout")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def read() -> list[dict]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]

    yield read
    handler.setStream(previous)


def _wait_for(probe, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _request_lines(lines):
    return [line for line in lines if line["logger"] == "request"]


def test_request_log_is_one_json_line_with_the_request_fields(client, log_lines):
    # when
    response = client.get("/health/live?token=abc", HTTP_X_REQUEST_ID="req-123")
    # then
    (line,) = _request_lines(log_lines())
    assert line["method"] == "GET"
    assert line["path"] == "/health/live"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["user_id"] is None
    assert line["request_id"] == "req-123" == response["X-Request-ID"]
    assert "token=abc" not in json.dumps(line)


def test_request_log_carries_the_signed_in_user_id(client, django_user_model, log_lines):
    # given
    user = django_user_model.objects.create_user(username="u1", password="pw-123456789")
    client.force_login(user)
    # when
    client.get("/")
    # then
    (line,) = _request_lines(log_lines())
    assert line["user_id"] == user.pk


@pytest.mark.parametrize("given", ["", "bad id with spaces", "x" * 200, "<script>"])
def test_request_id_is_generated_when_missing_or_unsafe(client, given):
    # when
    response = client.get("/health/live", HTTP_X_REQUEST_ID=given)
    # then
    assert response["X-Request-ID"] != given
    assert len(response["X-Request-ID"]) == 32


def test_every_log_line_of_a_request_carries_its_request_id(client, log_lines):
    # given: a page that logs through another logger while handling the request
    client.get("/api/v1/does-not-exist", HTTP_X_REQUEST_ID="trace-7")
    # then
    lines = log_lines()
    assert lines, "expected log lines"
    assert {line["request_id"] for line in lines} == {"trace-7"}


def test_secrets_never_reach_a_log(client, log_lines):
    # given: secrets in a form body, headers, a cookie, a log message and `extra` fields
    logger = logging.getLogger("test.secrets")
    client.cookies["sessionid"] = SECRETS[3]
    client.post(
        "/accounts/login/",
        {"login": "a@example.com", "password": SECRETS[0]},
        HTTP_AUTHORIZATION=f"Bearer {SECRETS[2]}",
    )
    logger.info("user sent password=%s and private_key=%s", SECRETS[0], SECRETS[1])
    logger.info("signing with token: %s", SECRETS[2])
    logger.warning(
        "wallet event",
        extra={"signature": SECRETS[1], "payload": {"access": SECRETS[2], "note": "ok"}},
    )
    try:
        raise ValueError(f"secret={SECRETS[0]}")
    except ValueError:
        logger.exception("failure")
    # then
    output = json.dumps(log_lines())
    for secret in SECRETS:
        assert secret not in output
    assert "[REDACTED]" in output
    assert '"note": "ok"' in output


def test_celery_task_log_lines_carry_the_request_id_that_queued_them():
    # given: a real worker consuming from the broker, and the project's formatter and filters
    # on the task's logger (the worker re-runs django.setup(), which rebuilds root handlers)
    from config.celery import app
    from core.logging import JsonFormatter, RedactingFilter, RequestContextFilter
    from core.tasks import ping

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactingFilter())
    task_logger = logging.getLogger("core.tasks")
    task_logger.addHandler(handler)

    def log_lines():
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            bind_request_id("from-web-42")
            try:
                # when
                ping.apply_async(kwargs={"note": "n1"})
            finally:
                bind_request_id(None)
            task_lines = _wait_for(
                lambda: [line for line in log_lines() if line.get("message") == "ping task ran"]
            )
    finally:
        app.conf.task_always_eager = True
        task_logger.removeHandler(handler)
    # then
    (line,) = task_lines
    assert line["request_id"] == "from-web-42"
    assert line["note"] == "n1"


PREIMAGE = "0x" + "5e" * 32


def test_a_task_preimage_never_reaches_the_worker_log_when_it_fails():
    # given: a real worker; a task whose argument is a preimage, failing (Celery logs the
    # arguments' repr on failure), and the project's formatter and filters on Celery's logger
    from celery import shared_task

    from config.celery import app
    from core.logging import JsonFormatter, RedactingFilter, RequestContextFilter

    @shared_task(name="core.tests.redeem_and_fail")
    def redeem_and_fail(lock_id: str, preimage: str) -> None:
        raise ValueError("the chain said no")

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactingFilter())
    trace_logger = logging.getLogger("celery.app.trace")
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            # (after the worker's start, which reconfigures logging)
            trace_logger.addHandler(handler)
            # when
            redeem_and_fail.apply_async(args=["0xlock", PREIMAGE])
            _wait_for(lambda: "the chain said no" in buffer.getvalue())
    finally:
        app.conf.task_always_eager = True
        trace_logger.removeHandler(handler)
    # then
    output = buffer.getvalue()
    assert "0xlock" in output  # the other arguments are still there to debug with
    assert PREIMAGE not in output and PREIMAGE[2:] not in output
    assert "[REDACTED]" in output


def test_relay_redeem_publishes_its_preimage_redacted():
    # given: the real task's message, as Celery builds it
    from config.celery import _redact_task_arguments, app

    message = app.amqp.as_task_v2("id-1", "chains.relay_redeem", args=("local-a", "0x01", PREIMAGE))
    assert PREIMAGE in message.headers["argsrepr"]  # what Celery would log without us
    # when
    _redact_task_arguments(sender="chains.relay_redeem", headers=message.headers, body=message.body)
    # then
    assert PREIMAGE not in message.headers["argsrepr"]
    assert "local-a" in message.headers["argsrepr"]
