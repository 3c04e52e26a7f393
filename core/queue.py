"""Queue a Celery task by its name once the current transaction commits.

Services queue follow-up work this way rather than importing the task module, which
imports the services: the task names (``name="app.verb"``) are the contract, and no
import cycle is needed to honour it.
"""

from __future__ import annotations

from functools import partial

from celery import current_app
from django.db import transaction


def enqueue_on_commit(task_name: str, *args) -> None:
    """Queue `task_name` with `args` after the commit (at once outside a transaction).

    A rolled-back write queues nothing. The task's module must be imported (each app's
    ``AppConfig.ready()`` imports its ``tasks``); an unknown name raises ``NotRegistered``
    at send time, which a test of each caller catches.
    """
    transaction.on_commit(partial(_send, task_name, args))


def _send(task_name: str, args: tuple) -> None:
    current_app.tasks[task_name].delay(*args)
