"""The ports a flow runs with, besides the store: clock, crash points, ids, the relay's wake-up,
concurrency and metrics — and `Ports`, the bundle every flow takes.

Owns the protocols only. The service's implementations (asyncio, os._exit, uuid4, Prometheus)
are wired in `service.runtime`; the twin's (SimPy, a seeded id stream, plain counters) in `sim/`.
A flow must reach time, concurrency, randomness and the process only through these, so the same
function runs under both drivers (DESIGN §1). Must not import asyncio, SimPy, SQLAlchemy or an
HTTP library.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from service.calendar.gateway import CalendarGateway
from service.clock import Clock
from service.policies import Policies
from service.ports.store import Store
from service.resilience.breaker import CircuitBreaker
from service.settings import Protections, Settings

T = TypeVar("T")


class CrashSwitch(Protocol):
    def hit(self, name: str) -> None:
        """A flow passes crash point `name`: the process dies here if it is armed for this
        passage (nothing after the point runs)."""
        ...


class IdSource(Protocol):
    def new_id(self) -> str:
        """A fresh UUID-4 text (appointment, hold, saga and re-created event ids)."""
        ...


class Wakeup(Protocol):
    """The relay's doorbell: a request that answered 202 rings it so the relay need not wait for
    its next poll."""

    def set(self) -> None: ...

    async def wait(self, timeout_s: float) -> None:
        """Forget earlier rings, then return at the next ring or after `timeout_s`."""
        ...


class TaskGroup(Protocol):
    async def gather(self, awaitables: Sequence[Awaitable[T]]) -> list[T]:
        """Run them concurrently; their results in order. An exception in one propagates
        after all have finished or been cancelled."""
        ...


class FlowMetrics(Protocol):
    """What the flows and the gateway count (the service: Prometheus; the twin: counters)."""

    def calendar_call(self, operation: str, outcome: str) -> None: ...

    def retried(self, count: int) -> None: ...

    def breaker_refused(self, operation: str) -> None: ...

    def observe_breaker(self, breaker: CircuitBreaker | None, now: float) -> None: ...

    def create_answered(self, status: int) -> None: ...

    def relay_row(self, result: str) -> None: ...


@dataclass
class Ports:
    """Everything a flow touches. `rng` draws the flows' own jitter (a conflict's retry pause);
    the gateway holds its own for backoff."""

    settings: Settings
    policies: Policies
    clock: Clock
    rng: random.Random
    store: Store
    gateway: CalendarGateway
    breaker: CircuitBreaker | None
    crash: CrashSwitch
    ids: IdSource
    metrics: FlowMetrics
    relay_wakeup: Wakeup
    tasks: TaskGroup
    # The settings' switches, kept at hand: every flow step reads them.
    protections: Protections = field(init=False)

    def __post_init__(self) -> None:
        self.protections = self.settings.protections
