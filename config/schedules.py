"""Every periodic Celery job, in one place. Each has an expiry so a backlog never piles up."""

import environ

env = environ.Env()
# WORKER_HEARTBEAT_SECONDS: how often beat asks a worker to record a heartbeat (see /health/ready).
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=15.0)

CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "core-heartbeat": {
        "task": "core.heartbeat",
        "schedule": WORKER_HEARTBEAT_SECONDS,
        # Never shorter than a broker poll (the file transport polls each second).
        "options": {"expires": max(WORKER_HEARTBEAT_SECONDS, 10.0)},
    },
}
