"""Both calendar clients (aiohttp, httpx) against the real fake provider: every way a call can end
is classified the same by both, as the retry plan needs (RETRYABLE only when nothing was sent)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from service.calendar.aiohttp_client import AiohttpCalendarClient
from service.calendar.client import HttpCalendarClient
from service.calendar.contract import CalendarClient, EventSpec
from service.resilience.outcomes import OutcomeKind
from service.runtime import build_calendar_client
from service.settings import CALENDAR_CLIENTS, Settings
from service.system_clock import LoopClock
from tests.service.live_stack import Provider

pytestmark = pytest.mark.integration

TIMEOUT_S = 2.0
CONNECT_TIMEOUT_S = 0.1


def _spec() -> EventSpec:
    identity = str(uuid.uuid4())
    return EventSpec(
        calendar_id="room-1",
        start="2031-03-03T08:00:00Z",
        end="2031-03-03T08:30:00Z",
        summary="checkup",
        event_id=identity,
        key=identity,
    )


def _client(kind: str, url: str) -> CalendarClient:
    settings = Settings(
        calendar_url=url, calendar_client=kind, connect_timeout_ms=CONNECT_TIMEOUT_S * 1000
    )
    return build_calendar_client(settings, LoopClock())


@pytest.fixture(params=CALENDAR_CLIENTS)
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def client(kind: str, provider: Provider) -> AsyncIterator[CalendarClient]:
    calendar = _client(kind, provider.url)
    try:
        yield calendar
    finally:
        await calendar.aclose()


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback port nothing listens on (bound, never listening, so nobody else takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_setting_picks_the_client() -> None:
    assert isinstance(_client("aiohttp", "http://127.0.0.1:1"), AiohttpCalendarClient)
    assert isinstance(_client("httpx", "http://127.0.0.1:1"), HttpCalendarClient)
    assert Settings.from_env({}).calendar_client == "aiohttp"
    assert Settings.from_env({"REHEARSAL_CALENDAR_CLIENT": "httpx"}).calendar_client == "httpx"


@dataclass(frozen=True)
class Case:
    faults: dict[str, Any]
    kind: OutcomeKind
    status: int | None
    retry_after_s: float | None
    committed: bool  # the provider holds the event afterwards


CASES = {
    "created": Case({}, OutcomeKind.OK, 201, None, True),
    "unavailable_with_retry_after": Case(
        {"error_rate": 1.0, "error_status": 503, "retry_after_s": 0.5},
        OutcomeKind.RETRYABLE,
        503,
        0.5,
        False,
    ),
    "too_many_requests_whole_seconds": Case(
        {"error_rate": 1.0, "error_status": 429, "retry_after_s": 2.0},
        OutcomeKind.RETRYABLE,
        429,
        2.0,
        False,
    ),
    "outage": Case({"outage": True}, OutcomeKind.RETRYABLE, 503, None, False),
    "refused": Case({"permanent_error_rate": 1.0}, OutcomeKind.PERMANENT, 400, None, False),
    "committed_then_500": Case(
        {"commit_then_fail_rate": 1.0, "commit_then_fail_mode": "error"},
        OutcomeKind.AMBIGUOUS,
        500,
        None,
        True,
    ),
    "committed_then_dropped": Case(
        {"commit_then_fail_rate": 1.0, "commit_then_fail_mode": "drop"},
        OutcomeKind.AMBIGUOUS,
        None,
        None,
        True,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_create_outcome(client: CalendarClient, provider: Provider, case: Case) -> None:
    provider.set_faults(**case.faults)
    spec = _spec()
    result = await client.create_event(spec, TIMEOUT_S)
    seen = (result.outcome.kind, result.status, result.outcome.retry_after_s)
    assert seen == (case.kind, case.status, case.retry_after_s)
    assert [e["id"] for e in provider.events()] == ([spec.event_id] if case.committed else [])
    assert [c["attempt"] for c in provider.calls()] == [1]  # one call, one attempt: no retries
    if case.kind is OutcomeKind.OK:
        assert result.body is not None and result.body["id"] == spec.event_id
        assert result.body["calendar_id"] == "room-1"
        assert result.outcome.detail == ""
    elif case.status is not None:
        assert result.outcome.detail == f"HTTP {case.status}"
        assert result.body is not None and "error" in result.body
    else:
        assert result.body is None and result.outcome.detail  # names the transport error


async def test_a_repeat_is_answered_with_the_same_event(
    client: CalendarClient, provider: Provider
) -> None:
    spec = _spec()
    first = await client.create_event(spec, TIMEOUT_S)
    again = await client.create_event(spec, TIMEOUT_S)
    assert (first.status, again.status) == (201, 200)
    assert again.outcome.ok and again.body == first.body
    assert len(provider.events()) == 1


async def test_a_hung_provider_is_ambiguous_within_the_timeout(
    client: CalendarClient, provider: Provider
) -> None:
    provider.set_faults(hang_rate=1.0, hang_s=30.0)
    started = time.monotonic()
    result = await client.create_event(_spec(), 0.3)
    elapsed = time.monotonic() - started
    assert result.outcome.kind is OutcomeKind.AMBIGUOUS and result.status is None
    assert 0.25 <= elapsed < 1.0, elapsed


async def test_nothing_listening_is_retryable_at_once(kind: str, dead_url: str) -> None:
    client = _client(kind, dead_url)
    try:
        started = time.monotonic()
        result = await client.create_event(_spec(), TIMEOUT_S)
        elapsed = time.monotonic() - started
        assert result.outcome.kind is OutcomeKind.RETRYABLE and result.status is None
        assert elapsed < 0.5, elapsed
        with pytest.raises(Exception):  # noqa: B017 - the reconciler treats every failure alike
            await client.list_events(TIMEOUT_S)
    finally:
        await client.aclose()


async def test_a_delete_removes_the_event_and_a_missing_one_counts_as_gone(
    client: CalendarClient, provider: Provider
) -> None:
    spec = _spec()
    assert (await client.create_event(spec, TIMEOUT_S)).outcome.ok
    assert spec.event_id is not None
    listed = await client.list_events(TIMEOUT_S)
    assert [e["id"] for e in listed] == [spec.event_id]
    gone = await client.delete_event(spec.event_id, spec.key, TIMEOUT_S)
    again = await client.delete_event(spec.event_id, spec.key, TIMEOUT_S)
    assert (gone.outcome.kind, gone.status) == (OutcomeKind.OK, 204)
    assert (again.outcome.kind, again.status) == (OutcomeKind.OK, 404)
    assert provider.events() == []


async def test_a_delete_that_commits_then_drops_the_connection_is_ambiguous(
    client: CalendarClient, provider: Provider
) -> None:
    spec = _spec()
    assert spec.event_id is not None
    assert (await client.create_event(spec, TIMEOUT_S)).outcome.ok
    provider.set_faults(commit_then_fail_rate=1.0, commit_then_fail_mode="drop")
    result = await client.delete_event(spec.event_id, spec.key, TIMEOUT_S)
    assert result.outcome.kind is OutcomeKind.AMBIGUOUS and result.status is None
    assert provider.events() == []
    provider.set_faults()
    # The connection the drop broke is not reused for the next call.
    assert (await client.create_event(_spec(), TIMEOUT_S)).outcome.ok


async def test_a_delete_that_commits_then_fails_is_ambiguous(
    client: CalendarClient, provider: Provider
) -> None:
    spec = _spec()
    assert spec.event_id is not None
    assert (await client.create_event(spec, TIMEOUT_S)).outcome.ok
    provider.set_faults(commit_then_fail_rate=1.0, commit_then_fail_mode="error")
    result = await client.delete_event(spec.event_id, spec.key, TIMEOUT_S)
    assert (result.outcome.kind, result.status) == (OutcomeKind.AMBIGUOUS, 500)
    assert provider.events() == []
    assert [c["op"] for c in provider.calls()] == ["create", "delete"]


@pytest.mark.parametrize("method", ["create", "delete"])
async def test_a_server_that_hangs_up_unanswered_gets_one_request_and_ambiguity(
    kind: str, method: str
) -> None:
    # aiohttp on its own would send an idempotent request (DELETE) again on a new connection;
    # the client switches that off so every attempt is the retry plan's.
    requests = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        await reader.readuntil(b"\r\n\r\n")
        requests += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    client = _client(kind, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        if method == "create":
            result = await client.create_event(_spec(), TIMEOUT_S)
        else:
            result = await client.delete_event("evt-1", "key-1", TIMEOUT_S)
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    assert (result.outcome.kind, result.status) == (OutcomeKind.AMBIGUOUS, None)
    assert requests == 1


async def test_a_connect_that_times_out_is_retryable(kind: str) -> None:
    # A listener that never accepts, its one-slot backlog already full: the kernel drops our SYN.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        for _ in range(2):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        client = _client(kind, f"http://127.0.0.1:{port}")
        try:
            started = time.monotonic()
            result = await client.create_event(_spec(), TIMEOUT_S)
            elapsed = time.monotonic() - started
        finally:
            await client.aclose()
            for filler in fillers:
                filler.close()
    assert result.outcome.kind is OutcomeKind.RETRYABLE, result.outcome
    assert CONNECT_TIMEOUT_S * 0.8 <= elapsed < 0.5, elapsed


async def test_a_closed_client_refuses_to_call(kind: str, provider: Provider) -> None:
    client = _client(kind, provider.url)
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.create_event(_spec(), TIMEOUT_S)
