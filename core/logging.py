"""JSON logging with request ids and redaction of secrets.

The request id lives in a context variable, so it follows a request through
sync and async code, and into Celery tasks (see ``config/celery.py``).
"""

from __future__ import annotations

import contextvars
import inspect
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)


def get_request_id() -> str | None:
    """Return the request id bound to the current context, if any."""
    return _request_id.get()


def bind_request_id(request_id: str | None) -> contextvars.Token:
    """Bind ``request_id`` to the current context; every log line carries it."""
    return _request_id.set(request_id)


def bind_user_id(user_id: int | None) -> contextvars.Token:
    """Bind the authenticated user's id to the current context."""
    return _user_id.set(user_id)


# Keys whose values never reach a log, wherever they appear in `extra`.
SENSITIVE_KEY = re.compile(
    r"pass(word)?|secret|token|signature|private|priv_?key|mnemonic|seed|preimage|"
    r"authorization|cookie|session|api_?key|csrf|jwt|access|refresh",
    re.IGNORECASE,
)
# Patterns scrubbed out of free text: key=value pairs, bearer tokens, JWTs, PEM keys.
_TEXT_PATTERNS = [
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|token|signature|private_key|privkey|mnemonic|"
            r"preimage|api_key|authorization|access|refresh)\b(\s*[\"']?\s*[:=]\s*[\"']?)"
            r"([^\s\"',;&]+)"
        ),
        r"\1\2[REDACTED]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[REDACTED_JWT]"),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "[REDACTED_KEY]",
    ),
]
REDACTED = "[REDACTED]"


def redact_text(text: str) -> str:
    """Return ``text`` with anything that looks like a credential replaced."""
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """Redact ``value`` if ``key`` names a secret; recurse into dicts and lists."""
    if SENSITIVE_KEY.search(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redacted_task_arguments(task: Any, args: tuple | list, kwargs: dict) -> tuple[str, str]:
    """``(argsrepr, kwargsrepr)`` of a Celery call with secret arguments hidden.

    An argument is secret when its parameter name in ``task.run`` names one (``preimage``,
    ``secret``, ``token``, ...: ``SENSITIVE_KEY``), positional or by keyword. Celery logs
    these reprs (not the arguments) when a task is received, retried or fails.
    """
    names: list[str] = []
    if task is not None:
        try:
            names = list(inspect.signature(task.run).parameters)
        except (TypeError, ValueError):
            names = []
    shown_args = [
        REDACTED if i < len(names) and SENSITIVE_KEY.search(names[i]) else redact_value("", a)
        for i, a in enumerate(args or ())
    ]
    shown_kwargs = {k: redact_value(str(k), v) for k, v in (kwargs or {}).items()}
    return repr(tuple(shown_args)), repr(shown_kwargs)


# Attributes every LogRecord has; anything else came from `extra=`.
_RESERVED = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class RequestContextFilter(logging.Filter):
    """Stamp each record with the current request id and user id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = _request_id.get()
        if getattr(record, "user_id", None) is None:
            record.user_id = _user_id.get()
        return True


class RedactingFilter(logging.Filter):
    """Scrub secrets from the message, its arguments and every `extra` field."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the line
            message = str(record.msg)
        record.msg = redact_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _RESERVED and key not in ("request_id", "user_id"):
                setattr(record, key, redact_value(key, value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if getattr(record, "user_id", None) is not None:
            payload["user_id"] = record.user_id  # type: ignore[attr-defined]
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in payload:
                payload[key] = value
        if record.exc_info:
            payload["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, ensure_ascii=False)
