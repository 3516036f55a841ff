"""The aiohttp client of the provider's events API (docs/provider_api.md): one call, one outcome.

Owns one `aiohttp.ClientSession` on one sized `TCPConnector`, and per-attempt timeouts. It exists
because httpx's pool bookkeeping cost about half of a create's CPU (encode/httpcore#1035);
aiohttp's pool is O(1) per request and its HTTP parser is compiled. What a call sends and how an
answer is classified come from `service.calendar.contract`, shared with the httpx client, so both
give the same outcome for the same event:

- an answer: `classify_status`, Retry-After parsed by `parse_retry_after`;
- no connection (refused, DNS, TLS, connect timeout): RETRYABLE, the request was not sent;
- anything after that (our timeout, server disconnected, a body cut short by the fake's
  commit-then-fail "drop"): AMBIGUOUS, the provider may have acted.

Must not retry, sleep or consult the breaker: the retry plan does that (`gateway`). The session is
made on first use, since aiohttp binds it to the running loop and `build_runtime` runs before the
loop does. Time of each outcome comes from the app's clock.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import aiohttp

from service.calendar.contract import (
    EVENTS_PATH,
    CallResult,
    EventSpec,
    answered,
    create_body,
    deleted,
    failed,
    key_headers,
)
from service.clock import Clock
from service.resilience.outcomes import classify_transport_error

# Below uvicorn's default keep-alive (5 s, the fake provider's): a connection idle that long is
# closed by us first, so we never write a request into one the server is closing at that moment,
# which would turn a harmless reconnect into an AMBIGUOUS outcome.
KEEPALIVE_S = 4.0

# The bytes httpx sends for `json=`: compact, UTF-8, no NaN.
_encode_json = functools.partial(
    json.dumps, ensure_ascii=False, separators=(",", ":"), allow_nan=False
)


class AiohttpCalendarClient:
    def __init__(
        self, base_url: str, clock: Clock, *, max_connections: int, connect_timeout_s: float
    ) -> None:
        self._clock = clock
        self._connect_timeout_s = connect_timeout_s
        self._max_connections = max_connections
        # Whole URLs, as httpx joins them: a path in the base URL is kept as a prefix.
        self._events_url = base_url.rstrip("/") + EVENTS_PATH
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            if self._closed:
                raise RuntimeError("the calendar client is closed; build a new runtime")
            # One host, so `limit` is the pool: it caps what a slow or hung provider can hold
            # (each in-flight attempt holds one connection) while leaving headroom over the
            # handful a healthy one needs at a few hundred requests per second. Waiters beyond
            # it queue, bounded by the attempt's total timeout.
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_S
            )
            session = aiohttp.ClientSession(
                connector=connector,
                # The provider sets no cookies; a real jar would be consulted on every request.
                cookie_jar=aiohttp.DummyCookieJar(),
                json_serialize=_encode_json,
                trust_env=False,
            )
            # aiohttp resends an idempotent request (our DELETE) once, inside the same call, when
            # the connection drops before the answer's head; httpx does not. Attempts are the
            # retry plan's to make and count, so switch that off (no public switch exists;
            # tests/service/test_calendar_clients.py fails if this stops working).
            session._retry_connection = False
            self._session = session
        return session

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _timeout(self, timeout_s: float) -> aiohttp.ClientTimeout:
        # `total` covers waiting for a pooled connection, connecting, sending and reading the
        # whole body; `sock_connect` only the TCP connect, so a slow connect fails as
        # ConnectionTimeoutError (nothing sent) rather than as the attempt's timeout. A `total`
        # that runs out while still queued for a connection reads as AMBIGUOUS, which is
        # conservative (and what httpx does too: its outer deadline fires before its PoolTimeout).
        return aiohttp.ClientTimeout(
            total=timeout_s, sock_connect=min(self._connect_timeout_s, timeout_s)
        )

    async def create_event(self, spec: EventSpec, timeout_s: float) -> CallResult:
        return await self._call(
            "POST",
            self._events_url,
            timeout_s,
            json=create_body(spec),
            headers=key_headers(spec.key),
        )

    async def delete_event(self, event_id: str, key: str | None, timeout_s: float) -> CallResult:
        return deleted(
            await self._call(
                "DELETE", f"{self._events_url}/{event_id}", timeout_s, headers=key_headers(key)
            )
        )

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]:
        """Every event the provider holds; raises aiohttp.ClientError / TimeoutError on failure
        (a non-2xx answer too, as httpx's `raise_for_status` does)."""
        async with self._open().get(
            self._events_url, timeout=self._timeout(timeout_s), allow_redirects=False
        ) as response:
            content = await response.read()
            if not 200 <= response.status < 300:
                raise aiohttp.ClientResponseError(
                    response.request_info,
                    response.history,
                    status=response.status,
                    message=f"listing events answered HTTP {response.status}",
                )
        events: list[dict[str, Any]] = json.loads(content)["events"]
        return events

    async def _call(self, method: str, url: str, timeout_s: float, **kwargs: Any) -> CallResult:
        try:
            async with self._open().request(
                method, url, timeout=self._timeout(timeout_s), allow_redirects=False, **kwargs
            ) as response:
                # Read inside the try: a body cut short is a failure after sending.
                content = await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return failed(classify_transport_error(request_sent=False), exc, self._clock.now())
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The total timeout (TimeoutError), ServerDisconnectedError, a reset, or a
            # ClientPayloadError mid-body: the provider may have acted.
            return failed(classify_transport_error(request_sent=True), exc, self._clock.now())
        return answered(
            response.status, response.headers.get("Retry-After"), content, self._clock.now()
        )
