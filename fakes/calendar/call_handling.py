"""Runs one events-API call through the fault profile and logs it: the fake's I/O edge.

Owns waiting (asyncio sleeps, the queue semaphore, watching for the caller to give up) and the
shape of faulty answers; decides nothing itself — the fault and the service time come from the pure
`fault_rules`, keyed by (seed, operation, key, attempt). Time: `time.perf_counter` for measured
latency, the calendar's clock for arrival times.

Order for one call: count the attempt and decide its fault; outage answers 503 at once; otherwise
take a worker (queue model only), then either hang (until `hang_s`, then 504, or until the caller
disconnects) or wait out the sampled service time; a transient or permanent error answers instead
of the work; otherwise the work runs, and commit-then-fail turns its success into a 500 or a
dropped connection. A server shutdown cuts waits short with a 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from fakes.calendar.call_log import CallRecord
from fakes.calendar.fault_rules import (
    Fault,
    FaultDecision,
    Operation,
    call_latency_ms,
    decide_fault,
)
from fakes.calendar.profile import FaultProfile
from fakes.calendar.provider import FakeCalendar
from fakes.calendar.request_keys import CallKey

logger = logging.getLogger("fakes.calendar")


@dataclass(frozen=True)
class Reply:
    """What the work of a call answers when no fault intervenes."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    event_id: str | None = None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status < 300

    def to_response(self) -> Response:
        if self.body is None:
            return Response(status_code=self.status, headers=self.headers)
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


@dataclass(frozen=True)
class CallContext:
    """What the work of a call may depend on: its attempt number and the profile it arrived under."""

    attempt: int
    profile: FaultProfile


class DroppedResponse(Response):
    """Starts a response (status, headers, Content-Length) then stops half-way through the body.

    The ASGI server closes the connection when the app returns with the response incomplete, so
    the caller sees a protocol error (httpx: `RemoteProtocolError`), not a status. Uvicorn logs
    "ASGI callable returned without completing response." for each one: that is this, on purpose.
    """

    def __init__(self, reply: Reply) -> None:
        # A 204 may carry no body, so "half a body" would be a stray byte that some clients read
        # as a clean 204 and others as garbage on the next kept-alive call. A dropped delete is
        # sent as a 200 with a JSON body instead, cut the same way as any other drop.
        status = 200 if reply.status in (204, 304) else reply.status
        body = reply.body if reply.body is not None else {"done": True}
        super().__init__(status_code=status, headers=reply.headers)
        self._payload = JSONResponse(body).body
        self.headers["content-type"] = "application/json"
        self.headers["content-length"] = str(len(self._payload))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        half = self._payload[: len(self._payload) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})


def error_reply(decision: FaultDecision, message: str) -> Reply:
    """The answer for an injected error: `{"error": ...}`, plus `Retry-After` when the profile sets it."""
    assert decision.status is not None
    headers = {}
    if decision.retry_after_s is not None:
        headers["Retry-After"] = f"{decision.retry_after_s:g}"
    return Reply(decision.status, {"error": message}, headers)


@dataclass(frozen=True)
class _Answer:
    """The response to send, and what the call log records of it."""

    response: Response
    status: int | None  # None: the caller receives no complete response
    event_id: str | None = None

    @classmethod
    def of(cls, reply: Reply, event_id: str | None = None) -> _Answer:
        return cls(reply.to_response(), reply.status, event_id)


async def handle_call(
    calendar: FakeCalendar,
    request: Request,
    operation: Operation,
    call_key: CallKey,
    work: Callable[[CallContext], Reply],
) -> Response:
    """Answer one events-API call under the profile in force when it arrived, and log it."""
    started = time.perf_counter()
    arrived_at = calendar.clock()
    seq = calendar.calls.begin()
    try:
        profile = calendar.profile
        attempt = calendar.attempts.next_attempt(operation.value, call_key.key)
        decision = decide_fault(profile, operation, call_key.key, attempt)
        plan = _CallPlan(operation, call_key, attempt, profile, decision)
        answer = await _answer(calendar, request, plan, work)
    finally:
        calendar.calls.end()
    calendar.calls.append(
        CallRecord(
            seq=seq,
            time=arrived_at,
            method=request.method,
            path=request.url.path,
            op=operation.value,
            key=call_key.key,
            key_source=call_key.source,
            idempotency_key=request.headers.get("idempotency-key") or None,
            attempt=attempt,
            fault=None if decision.fault is Fault.NONE else decision.fault.value,
            status=answer.status,
            latency_ms=round((time.perf_counter() - started) * 1000.0, 3),
            event_id=answer.event_id,
        )
    )
    return answer.response


@dataclass(frozen=True)
class _CallPlan:
    """One call as it arrived: what it is, its attempt, the profile then in force, its fault."""

    operation: Operation
    call_key: CallKey
    attempt: int
    profile: FaultProfile
    decision: FaultDecision


async def _answer(
    calendar: FakeCalendar, request: Request, plan: _CallPlan, work: Callable[[CallContext], Reply]
) -> _Answer:
    decision, attempt = plan.decision, plan.attempt
    if decision.fault is Fault.OUTAGE:
        return _Answer.of(error_reply(decision, "service unavailable (injected outage)"))

    queue = calendar.queue()
    async with queue if queue is not None else contextlib.nullcontext():
        if decision.fault is Fault.HANG:
            assert decision.hang_s is not None
            ended = await _wait(decision.hang_s, calendar.closing, request)
        else:
            latency_ms = call_latency_ms(plan.profile, plan.operation, plan.call_key.key, attempt)
            delay_s = latency_ms / 1000.0
            ended = await _wait(delay_s, calendar.closing)
    if ended is WaitEnd.CALLER_GONE:
        return _Answer(Response(status_code=499), None)  # never sent: nobody is listening
    if ended is WaitEnd.CLOSING:
        return _Answer.of(Reply(503, {"error": "provider shutting down"}))
    if decision.fault is Fault.HANG:
        message = f"no answer within {decision.hang_s:g}s (injected hang)"
        return _Answer.of(error_reply(decision, message))
    if decision.fault is Fault.TRANSIENT_ERROR:
        message = f"temporary failure, retry later (injected, attempt {attempt})"
        return _Answer.of(error_reply(decision, message))
    if decision.fault is Fault.PERMANENT_ERROR:
        message = f"request refused (injected permanent error, attempt {attempt})"
        return _Answer.of(error_reply(decision, message))

    reply = work(CallContext(attempt, plan.profile))
    if decision.fault is not Fault.COMMIT_THEN_FAIL or not reply.succeeded:
        return _Answer.of(reply, reply.event_id)
    if decision.drop:
        logger.info("commit-then-fail: dropping %s %s mid-response", request.method, request.url)
        return _Answer(DroppedResponse(reply), None, reply.event_id)
    message = "internal error after commit (injected commit_then_fail)"
    return _Answer.of(error_reply(decision, message), reply.event_id)


class WaitEnd(enum.Enum):
    """Why a wait (latency or hang) ended."""

    ELAPSED = "elapsed"
    CALLER_GONE = "caller_gone"
    CLOSING = "closing"


async def _wait(seconds: float, closing: asyncio.Event, request: Request | None = None) -> WaitEnd:
    """Wait `seconds`, or less if the server starts shutting down or (given `request`) the caller
    disconnects. A shutdown therefore never waits out a 30 s hang or a long latency sample."""
    if seconds <= 0:
        return WaitEnd.ELAPSED
    watchers: dict[asyncio.Future[object], WaitEnd] = {
        asyncio.ensure_future(closing.wait()): WaitEnd.CLOSING
    }
    if request is not None:
        watchers[asyncio.ensure_future(_caller_gone(request))] = WaitEnd.CALLER_GONE
    try:
        done, _ = await asyncio.wait(watchers, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for watcher in watchers:
            watcher.cancel()
    if not done:
        return WaitEnd.ELAPSED
    return watchers[done.pop()]


async def _caller_gone(request: Request) -> None:
    # The request body is already read, so the next message the server sends is the disconnect.
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
