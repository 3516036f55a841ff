"""The service process in virtual time: what survives a crash, what dies with it, and restarts.

Theory of operation. The host owns the persistent parts — the database (`sim.state`), the
counters the runner's sampler carries across restarts, the path to the provider — and one
incarnation at a time of the parts a process holds in memory: its circuit breaker, its jitter
RNG, its CPU and database queues, its relay, its relay wake-up, and the requests in flight. A
crash point (`scenarios.spec.CRASH_POINTS`, armed by the fault timeline for its nth passage)
ends the incarnation like `kill -9`: every request in flight is interrupted (its client sees a
transport error), the relay stops, nothing after the crash point runs; committed state stays.
While down, new connections are refused; after `restart_s` a new incarnation starts and its
relay finishes the work. Requests enter through `serve`, which dispatches to the flows.

Randomness: per incarnation, derived from the run seed by component name (`sim.components`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from service.policies import Policies
from service.resilience.breaker import CircuitBreaker
from service.settings import Settings
from sim import booking, changes
from sim.calendar_link import CalendarLink
from sim.components import component_rng, random_id
from sim.config import TwinParams
from sim.crash_points import CrashSwitch, ServiceCrashed
from sim.gateway import ServiceCounters, SimGateway
from sim.relay import SimRelay
from sim.state import ServiceState
from sim.timing import ServiceTiming

if TYPE_CHECKING:
    from scenarios.workload import PlannedRequest


class ServiceHost:
    """The service: one incarnation at a time over a persistent database."""

    def __init__(
        self,
        env: simpy.Environment,
        settings: Settings,
        params: TwinParams,
        link: CalendarLink,
        seed: int,
    ) -> None:
        self.env = env
        self.settings = settings
        self.protections = settings.protections
        self.policies = Policies.from_settings(settings)
        self.params = params
        self.link = link
        self.seed = seed
        self.deadline_s = settings.deadline_ms / 1000.0
        self.state = ServiceState()
        self.counters = ServiceCounters()
        self.crash_switch = CrashSwitch()
        self.crashes: list[float] = []
        self.up = False
        self.incarnation = 0
        self._ids = component_rng(seed, "ids")
        self._inflight: dict[int, simpy.Process] = {}
        self._serial = 0
        self.start()

    # -- incarnations ------------------------------------------------------------------------
    def start(self) -> None:
        """Start a fresh process: new breaker, RNGs, queues and relay; the database as it was."""
        self.incarnation += 1
        env = self.env
        self.breaker = CircuitBreaker(self.policies.breaker) if self.protections.breaker else None
        jitter = component_rng(self.seed, "service-jitter", self.incarnation)
        self.gateway = SimGateway(env, self.link, jitter, self.breaker, self.counters)
        self.timing = ServiceTiming(
            self.params,
            self.settings.db_pool_size,
            component_rng(self.seed, "service-time", self.incarnation),
        )
        self._wakeup = env.event()
        self.up = True
        self.relay = SimRelay(self) if self.settings.relay_enabled else None

    def crash_point(self, point: str) -> None:
        """The flows pass a crash point: die here if it is armed for this passage."""
        if self.crash_switch.armed is not None and self.crash_switch.hit(point):
            self.crash()
            raise ServiceCrashed(point)

    def crash(self) -> None:
        """kill -9: interrupt everything in flight, then restart after `restart_s`."""
        env = self.env
        active = env.active_process
        self.up = False
        self.crashes.append(env.now)
        if self.breaker is not None:
            self.counters.breaker_opens_before += self.breaker.open_count
        for process in list(self._inflight.values()):
            if process is not active and process.is_alive:
                process.interrupt("crash")
        if self.relay is not None:
            self.relay.stop(active)
        restart = env.timeout(self.params.restart_s)
        restart.callbacks.append(lambda _: self.start())

    def retire(self) -> None:
        """The run is over (its processes closed, `sim.release`): forget the relay, which refers
        back to the host — a cycle that would leave the whole database to the cyclic collector."""
        self.relay = None

    def breaker_open_count(self) -> int:
        current = self.breaker.open_count if self.breaker is not None else 0
        return self.counters.breaker_opens_before + current

    # -- what the flows use ------------------------------------------------------------------
    def new_id(self) -> str:
        """A fresh appointment, hold or saga id (the service's uuid4, from a seeded RNG)."""
        return random_id(self._ids)

    def wake_relay(self) -> None:
        if not self._wakeup.triggered:
            self._wakeup.succeed()

    def relay_wakeup(self) -> simpy.Event:
        """The event the relay waits on: cleared (a new one) once it has fired."""
        if self._wakeup.triggered:
            self._wakeup = self.env.event()
        return self._wakeup

    # -- requests ---------------------------------------------------------------------------
    def enter(self, process: simpy.Process) -> int | None:
        """A request's process enters the service: its ticket, or None when over the limit
        (`max_in_flight`: 503). Pair with `leave`."""
        limit = self.params.max_in_flight
        if limit and len(self._inflight) >= limit:
            return None
        self._serial += 1
        self._inflight[self._serial] = process
        return self._serial

    def leave(self, ticket: int) -> None:
        del self._inflight[ticket]

    def flow(
        self, planned: PlannedRequest, fingerprint: str | None, request_id: str, arrived: float
    ) -> Generator[Any, Any, booking.Answer]:
        """The flow that answers `planned`, arriving at `arrived` (run it with `yield from`
        between `enter` and `leave`; a crash interrupts it with `simpy.Interrupt` or, in the
        process that reached the crash point, `ServiceCrashed`)."""
        operation = planned.operation
        if operation in _CREATES:
            return booking.create(self, planned, fingerprint or "", request_id, arrived)
        if operation in _READS:
            return booking.read(self, planned, arrived)
        if operation == "cancel":
            return changes.cancel(self, planned, fingerprint or "", arrived)
        return changes.reschedule(self, planned, fingerprint or "", arrived)


_CREATES = frozenset({"create", "replay", "conflict"})
_READS = frozenset({"get", "list"})
