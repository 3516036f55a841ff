"""`FakeCalendar`: one fake provider's state — profile, ground truth, call log, attempts, queue.

Created by `create_app` (no module singletons) and handed to the routes through a dependency.
Wall-clock time comes from the injected `clock` (Unix seconds); randomness from the pure fault and
latency rules, keyed per call. The queue is an `asyncio.Semaphore`, so this object belongs to one
event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from fakes.calendar.call_log import AttemptCounter, CallLog
from fakes.calendar.latency import servers_of
from fakes.calendar.profile import FaultProfile
from fakes.calendar.seeding import derive_uuid
from fakes.calendar.store import EventStore


class FakeCalendar:
    """The state behind one fake provider; the routes only read and change it through here."""

    def __init__(self, seed: int, clock: Callable[[], float]) -> None:
        self.default_seed = seed
        self.clock = clock
        self.store = EventStore()
        self.calls = CallLog()
        self.attempts = AttemptCounter()
        self.profile = self.default_profile()
        self._queue: asyncio.Semaphore | None = None
        self._queue_servers: int | None = None
        self.closing = asyncio.Event()

    def close(self) -> None:
        """The server is shutting down: calls waiting out a hang or a latency answer now."""
        self.closing.set()

    def default_profile(self) -> FaultProfile:
        """No faults, no latency, keys honoured, seeded with the fake's --seed."""
        return FaultProfile(seed=self.default_seed)

    def set_profile(self, profile: FaultProfile) -> None:
        """Put `profile` in force for calls arriving from now on; calls in flight keep theirs."""
        self.profile = profile

    def reset(self) -> None:
        """Forget every event, call and attempt, and put the default profile back."""
        self.store.clear()
        self.calls.clear()
        self.attempts.clear()
        self.profile = self.default_profile()

    def queue(self) -> asyncio.Semaphore | None:
        """The workers of a `queue` latency model (None without one); rebuilt when its size changes.

        Calls already waiting on an old queue finish on it, so a resize never strands a caller.
        """
        servers = servers_of(self.profile.latency_ms)
        if servers != self._queue_servers:
            self._queue_servers = servers
            self._queue = None if servers is None else asyncio.Semaphore(servers)
        return self._queue

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    @staticmethod
    def new_event_id(seed: int, key: str, attempt: int) -> str:
        """A provider-generated event id: a pure function of (seed, key, attempt), so runs repeat."""
        return derive_uuid(seed, "event-id", key, attempt)


def get_calendar(request: Request) -> FakeCalendar:
    """The `FakeCalendar` of the app serving `request` (set by `create_app`)."""
    calendar: FakeCalendar = request.app.state.calendar
    return calendar


CalendarDep = Annotated[FakeCalendar, Depends(get_calendar)]
