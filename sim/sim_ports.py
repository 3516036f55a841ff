"""The twin's side of the flow ports (`service.ports.context`): clock, crash points, ids, the
relay's wake-up and the counters `/metrics` would show.

Owns what each port means in virtual time: the clock reads the environment (as epoch seconds
from `SIM_EPOCH`, the provider's clock too, so the reconciler can compare its stamps), a crash
point that fires kills the host (`sim.host.ServiceHost.crash`) and raises `ServiceCrashed` in
the flow that reached it, ids are UUID-4s drawn from the host's seeded id stream, the wake-up is
a SimPy event, and the metrics are plain counters kept across restarts. Decides nothing about a
booking: the flows do.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import simpy

from service.crash_points import CrashPoints
from service.resilience.breaker import CircuitBreaker
from sim.components import random_id
from sim.flow_driver import ServiceCrashed, wait

if TYPE_CHECKING:
    from sim.host import ServiceHost


class SimClock:
    """`service.clock.Clock` on the environment: `epoch_s + env.now`."""

    __slots__ = ("env", "epoch_s")

    def __init__(self, env: simpy.Environment, epoch_s: float) -> None:
        self.env = env
        self.epoch_s = epoch_s

    def now(self) -> float:
        # `Environment._now`, not the `now` property: the flows read the clock several times a
        # request (simpy pinned to 4 in pyproject.toml; `sim.release` relies on it too).
        return self.epoch_s + self.env._now

    async def sleep(self, seconds: float) -> None:
        await wait(self.env.timeout(seconds if seconds > 0.0 else 0.0))


class SimCrash:
    """`service.ports.context.CrashSwitch`: the service's own passage counting
    (`CrashPoints.reached`), the twin's death (`ServiceHost.crash`)."""

    __slots__ = ("host", "points")

    def __init__(self, host: ServiceHost, points: CrashPoints) -> None:
        self.host = host
        self.points = points

    def hit(self, name: str) -> None:
        if self.points.armed is not None and self.points.reached(name):
            self.host.crash()
            raise ServiceCrashed(name)


class SeededIds:
    """`service.ports.context.IdSource`: the service's uuid4, drawn from a seeded RNG."""

    __slots__ = ("rng",)

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def new_id(self) -> str:
        return random_id(self.rng)


class SimWakeup:
    """`service.ports.context.Wakeup` as a SimPy event, replaced once it has fired."""

    __slots__ = ("env", "_event")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self._event = env.event()

    def set(self) -> None:
        if not self._event.triggered:
            self._event.succeed()

    async def wait(self, timeout_s: float) -> None:
        if self._event.triggered:
            self._event = self.env.event()  # forget earlier rings
        await wait(self._event | self.env.timeout(timeout_s))


class TwinCounters:
    """`service.ports.context.FlowMetrics` as counters, kept across restarts like the runner's
    sampler carries the service's (`calendar_calls_total` counts attempts only: a plan the
    breaker refused made no call, as in the service)."""

    __slots__ = (
        "calendar_calls_total",
        "retries_total",
        "breaker_refusals",
        "breaker_opens_before",
        "creates",
        "relay_rows",
    )

    def __init__(self) -> None:
        self.calendar_calls_total = 0
        self.retries_total = 0
        self.breaker_refusals = 0
        self.breaker_opens_before = 0  # openings counted by earlier incarnations' breakers
        self.creates: dict[int, int] = {}
        self.relay_rows: dict[str, int] = {}

    def calendar_call(self, operation: str, outcome: str) -> None:
        self.calendar_calls_total += 1

    def retried(self, count: int) -> None:
        self.retries_total += count

    def breaker_refused(self, operation: str) -> None:
        self.breaker_refusals += 1

    def observe_breaker(self, breaker: CircuitBreaker | None, now: float) -> None:
        pass  # the sampler reads the breaker itself when it scrapes

    def create_answered(self, status: int) -> None:
        self.creates[status] = self.creates.get(status, 0) + 1

    def relay_row(self, result: str) -> None:
        self.relay_rows[result] = self.relay_rows.get(result, 0) + 1
