"""JSON logs, one object per line, with the request id and appointment id of the current task.

Owns the formatter, the context variables that carry request and appointment ids across awaits,
and masking: owner names and e-mail addresses never reach a log line. Masking is by field name
(`owner`, `name`, `email`, ... anywhere in `extra` data) and, as a backstop, by pattern (anything
shaped like an e-mail address in any string). Time comes from the log record (wall clock: logs are
for people).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import sys
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
appointment_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "appointment_id", default=None
)

MASK = "***"
SENSITIVE_KEYS = frozenset({"owner", "name", "email", "owner_name", "owner_email"})
_EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[A-Za-z]{2,}")
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of msg
}


def mask(value: Any) -> Any:
    """A copy of `value` with sensitive fields replaced and e-mail-shaped strings redacted.

    >>> mask({"owner": {"name": "Ada", "email": "ada@example.org"}, "note": "mail bob@x.io"})
    {'owner': '***', 'note': 'mail ***'}
    """
    if isinstance(value, dict):
        return {k: MASK if k in SENSITIVE_KEYS else mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return _EMAIL.sub(MASK, value) if "@" in value else value
    return value


class bound_appointment:  # noqa: N801 - used like the function it replaced: `with bound_...(id)`
    """Tag every log line inside the block with `appointment_id` (a class rather than a
    `@contextmanager` generator: every flow enters one per request, in both drivers)."""

    __slots__ = ("appointment_id", "_token")

    def __init__(self, appointment_id: str | None) -> None:
        self.appointment_id = appointment_id

    def __enter__(self) -> None:
        self._token = appointment_id_var.set(self.appointment_id)

    def __exit__(self, *exc: object) -> None:
        appointment_id_var.reset(self._token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # The fixed fields are ours (names, levels, sanitised ids); the message, the extras and
        # any traceback carry data and go through `mask`.
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
            "request_id": request_id_var.get(),
            "appointment_id": appointment_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = MASK if key in SENSITIVE_KEYS else mask(value)
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str) -> None:
    """Send every logger (uvicorn's too) to stderr as JSON lines. Call once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # uvicorn's access line repeats what our request log says, with less context; httpx logs
    # every provider call, which the calendar metrics and attempt logs already cover.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
