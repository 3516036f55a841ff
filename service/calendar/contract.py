"""The calendar client seam: what a call asks for, what it comes to, and how an answer is read.

Owns `CalendarClient` (the Protocol the gateway calls), `EventSpec`, `CallResult`, and the parts of
one call that do not depend on the HTTP library: the request body and headers, and the mapping of
an answer (status, Retry-After, body) or of a transport failure to an `Outcome`. Both clients
(`client.HttpCalendarClient` on httpx, `aiohttp_client.AiohttpCalendarClient`) build their results
here, so they cannot drift apart. No I/O and no clock: `now` comes from the caller's clock, which
the service keeps on epoch seconds (`service.system_clock.SystemClock`), so an HTTP-date in
Retry-After is read against it too.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from dataclasses import dataclass
from typing import Any, Protocol

from service.resilience.outcomes import Outcome, OutcomeKind, classify_status

EVENTS_PATH = "/v1/events"


@dataclass(frozen=True)
class EventSpec:
    """What to ask the provider to create. `event_id` and `key` make a retry safe: the provider
    answers a repeat with the event it already made instead of a second one."""

    calendar_id: str
    start: str
    end: str
    summary: str
    event_id: str | None
    key: str | None


@dataclass(frozen=True)
class CallResult:
    outcome: Outcome
    status: int | None = None
    body: dict[str, Any] | None = None


class CalendarClient(Protocol):
    """One attempt per call: no retries, no sleeps, no breaker (the gateway's retry plan owns
    those). Each call returns its outcome; only `list_events` raises (any exception: the
    reconciler treats every failure alike)."""

    async def create_event(self, spec: EventSpec, timeout_s: float) -> CallResult: ...

    async def delete_event(
        self, event_id: str, key: str | None, timeout_s: float
    ) -> CallResult: ...

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]: ...

    async def aclose(self) -> None: ...


def create_body(spec: EventSpec) -> dict[str, Any]:
    """The JSON body of `POST /v1/events` (docs/provider_api.md)."""
    body: dict[str, Any] = {
        "calendar_id": spec.calendar_id,
        "start": spec.start,
        "end": spec.end,
        "summary": spec.summary,
    }
    if spec.event_id is not None:
        body["id"] = spec.event_id
    return body


def key_headers(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key is not None else {}


def answered(status: int, retry_after: str | None, content: bytes, now: float) -> CallResult:
    """The result of an attempt that got a complete answer: `status` classified, `retry_after`
    (the raw header) parsed, `content` kept when it is a JSON object."""
    kind = classify_status(status)
    payload: dict[str, Any] | None = None
    if content:
        try:
            parsed = json.loads(content)
            payload = parsed if isinstance(parsed, dict) else None
        except ValueError:  # also UnicodeDecodeError
            payload = None
    detail = "" if kind is OutcomeKind.OK else f"HTTP {status}"
    return CallResult(
        Outcome(kind, now, parse_retry_after(retry_after, now), detail), status, payload
    )


def failed(kind: OutcomeKind, exc: BaseException, now: float) -> CallResult:
    """The result of an attempt that got no answer; `kind` says whether it may have been sent."""
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return CallResult(Outcome(kind, now, None, detail))


def deleted(result: CallResult) -> CallResult:
    """A delete's result: a 404 counts as done, since the goal is "the event is gone"."""
    if result.status == 404:
        return CallResult(Outcome(OutcomeKind.OK, result.outcome.now), 404, None)
    return result


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds, or an HTTP-date read against
    `now` (epoch seconds, the service's clock); None if absent or unreadable.

    >>> parse_retry_after("2", 0.0), parse_retry_after("soon", 0.0)
    (2.0, None)
    >>> parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 45.0)
    15.0
    """
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)
