"""The Celery application. Tasks carry the request id of whatever queued them."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("p2pswap")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.before_task_publish.connect
def _attach_request_id(headers: dict | None = None, **_: object) -> None:
    from core.logging import get_request_id

    request_id = get_request_id()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


@signals.before_task_publish.connect
def _redact_task_arguments(
    sender: str | None = None, headers: dict | None = None, body=None, **_: object
) -> None:
    """Celery logs ``argsrepr``/``kwargsrepr`` (received, retry, failure): hide secrets there,
    e.g. ``chains.relay_redeem``'s preimage; the task itself still gets its arguments."""
    from core.logging import redacted_task_arguments

    if headers is None or not isinstance(body, tuple | list) or len(body) < 2:
        return
    task = app.tasks.get(headers.get("task") or sender or "")
    headers["argsrepr"], headers["kwargsrepr"] = redacted_task_arguments(task, body[0], body[1])


@signals.task_prerun.connect
def _bind_request_id(task=None, **_: object) -> None:
    from core.logging import bind_request_id

    request_id = getattr(task.request, "request_id", None) if task else None
    bind_request_id(request_id or f"task-{task.request.id}" if task else None)


@signals.task_postrun.connect
def _unbind_request_id(**_: object) -> None:
    from core.logging import bind_request_id

    bind_request_id(None)


@signals.setup_logging.connect
def _keep_django_logging(**_: object) -> None:
    """Claim the signal so Celery leaves logging alone: django.setup() already applied LOGGING."""
