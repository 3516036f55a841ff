"""The httpx client of the provider's events API (docs/provider_api.md): one call, one outcome.

Owns the single pooled `httpx.AsyncClient` and its per-attempt timeouts; what a call sends and how
an answer or a failure is classified live in `service.calendar.contract`, shared with
`service.calendar.aiohttp_client` (the default; this one stays selectable with
`REHEARSAL_CALENDAR_CLIENT=httpx`). Must not retry, sleep or consult the breaker: the retry plan
does that (`service.calendar.gateway`). Time of each outcome comes from the app's clock.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from service.calendar.contract import (
    EVENTS_PATH,
    CalendarClient,
    CallResult,
    EventSpec,
    answered,
    create_body,
    deleted,
    failed,
    key_headers,
    parse_retry_after,
)
from service.clock import Clock
from service.resilience.outcomes import classify_transport_error

# The seam's types used to live here; importers of this module keep working.
__all__ = ["CalendarClient", "CallResult", "EventSpec", "HttpCalendarClient", "parse_retry_after"]


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
        return await self._call(
            "POST", EVENTS_PATH, timeout_s, json=create_body(spec), headers=key_headers(spec.key)
        )

    async def delete_event(self, event_id: str, key: str | None, timeout_s: float) -> CallResult:
        return deleted(
            await self._call(
                "DELETE", f"{EVENTS_PATH}/{event_id}", timeout_s, headers=key_headers(key)
            )
        )

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]:
        """Every event the provider holds; raises httpx.HTTPError / TimeoutError on failure."""
        async with asyncio.timeout(timeout_s):
            response = await self._http.get(EVENTS_PATH, timeout=self._timeout(timeout_s))
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
            return failed(classify_transport_error(request_sent=False), exc, self._clock.now())
        except (httpx.TransportError, TimeoutError) as exc:
            # A read timeout, a reset or our own deadline after the request may have left:
            # the provider may have acted.
            return failed(classify_transport_error(request_sent=True), exc, self._clock.now())
        return answered(
            response.status_code,
            response.headers.get("Retry-After"),
            response.content,
            self._clock.now(),
        )
