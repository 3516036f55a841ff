"""The HTTP client of the provider's events API (docs/provider_api.md): one call, one outcome.

Owns the single pooled `httpx.AsyncClient`, per-attempt timeouts, and the classification of what
came back into `service.resilience.outcomes` terms. Must not retry, sleep or consult the breaker:
the retry plan does that (`service.calendar.gateway`). Time of each outcome comes from the app's
clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from service.clock import Clock
from service.resilience.outcomes import (
    Outcome,
    OutcomeKind,
    classify_status,
    classify_transport_error,
)


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
    async def create_event(self, spec: EventSpec, timeout_s: float) -> CallResult: ...

    async def delete_event(
        self, event_id: str, key: str | None, timeout_s: float
    ) -> CallResult: ...

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]: ...

    async def aclose(self) -> None: ...


class HttpCalendarClient:
    def __init__(
        self, base_url: str, clock: Clock, *, max_connections: int, connect_timeout_s: float
    ) -> None:
        self._clock = clock
        self._connect_timeout_s = connect_timeout_s
        # Sized on purpose: httpcore's pool rescans every connection for every queued request
        # (O(N²+N·M), encode/httpcore#1035), so a large pool under hundreds of concurrent
        # requests spends its time in bookkeeping. A modest cap keeps N small; waiters beyond it
        # queue and are bounded by the attempt's pool timeout (a PoolTimeout is a safe retry:
        # nothing was sent). Keep-alive equals the cap because the same issue's other bug
        # evicts idle connections below max_keepalive_connections, which means reconnect churn.
        limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        )
        self._http = httpx.AsyncClient(base_url=base_url, limits=limits, trust_env=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _timeout(self, timeout_s: float) -> httpx.Timeout:
        return httpx.Timeout(
            timeout_s, connect=min(self._connect_timeout_s, timeout_s), pool=timeout_s
        )

    async def create_event(self, spec: EventSpec, timeout_s: float) -> CallResult:
        body: dict[str, Any] = {
            "calendar_id": spec.calendar_id,
            "start": spec.start,
            "end": spec.end,
            "summary": spec.summary,
        }
        if spec.event_id is not None:
            body["id"] = spec.event_id
        headers = {"Idempotency-Key": spec.key} if spec.key is not None else {}
        return await self._call("POST", "/v1/events", timeout_s, json=body, headers=headers)

    async def delete_event(self, event_id: str, key: str | None, timeout_s: float) -> CallResult:
        headers = {"Idempotency-Key": key} if key is not None else {}
        result = await self._call("DELETE", f"/v1/events/{event_id}", timeout_s, headers=headers)
        if result.status == 404:
            # The goal of a delete is "the event is gone": it is.
            return CallResult(Outcome(OutcomeKind.OK, result.outcome.now), 404, None)
        return result

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]:
        """Every event the provider holds; raises httpx.HTTPError / TimeoutError on failure."""
        async with asyncio.timeout(timeout_s):
            response = await self._http.get("/v1/events", timeout=self._timeout(timeout_s))
        response.raise_for_status()
        events: list[dict[str, Any]] = response.json()["events"]
        return events

    async def _call(self, method: str, path: str, timeout_s: float, **kwargs: Any) -> CallResult:
        try:
            async with asyncio.timeout(timeout_s):
                response = await self._http.request(
                    method, path, timeout=self._timeout(timeout_s), **kwargs
                )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return self._failed(classify_transport_error(request_sent=False), exc)
        except (httpx.TransportError, TimeoutError) as exc:
            # A read timeout, a reset or our own deadline after the request may have left:
            # the provider may have acted.
            return self._failed(classify_transport_error(request_sent=True), exc)
        now = self._clock.now()
        kind = classify_status(response.status_code)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        payload: dict[str, Any] | None = None
        if response.content:
            try:
                parsed = response.json()
                payload = parsed if isinstance(parsed, dict) else None
            except ValueError:
                payload = None
        detail = "" if kind is OutcomeKind.OK else f"HTTP {response.status_code}"
        return CallResult(Outcome(kind, now, retry_after, detail), response.status_code, payload)

    def _failed(self, kind: OutcomeKind, exc: BaseException) -> CallResult:
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return CallResult(Outcome(kind, self._clock.now(), None, detail))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date; None if absent
    or unreadable.

    >>> parse_retry_after("2"), parse_retry_after("soon")
    (2.0, None)
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
    # An HTTP-date is wall-clock time by definition.
    return max(0.0, when.timestamp() - time.time())
