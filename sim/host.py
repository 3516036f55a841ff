"""The service process in virtual time: the service's own flows on the twin's ports, what
survives a crash, what dies with it, and restarts.

Theory of operation. The host owns the persistent parts — the database (`sim.memory_store`,
timed by `sim.timed_store`), the counters the runner's sampler carries across restarts, the
crash points, the id stream, the client of the provider — and one incarnation at a time of the
parts a process holds in memory: its circuit breaker, its jitter RNG, its CPU and database
queues (`sim.timing`), its gateway, its relay and reconciler, and the requests in flight. Every
decision is the service's: requests run `service.booking`'s flows through `sim.request_front`,
the relay runs `service.relay.outbox_relay.OutboxRelay.run_forever` and the reconciler
`Reconciler.run_forever`, each a coroutine stepped by `sim.flow_driver.drive` inside a SimPy
process. A crash point (`service.crash_points.CrashPoints`, armed by the fault timeline for its
nth passage) ends the incarnation like `kill -9`: every process of it is interrupted (a client
sees its connection drop), nothing after the crash point runs, committed state stays. While down,
new connections are refused; `restart_s` after the crash (the crash fault's, as in real mode) a
new incarnation starts and its relay finishes the work.

Randomness: per incarnation, derived from the run seed by component name (`sim.components`).
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any

import simpy

from contract.seeds import component_rng
from service.calendar.gateway import CalendarGateway
from service.crash_points import CrashPoints
from service.policies import Policies
from service.ports.context import Ports
from service.relay.outbox_relay import OutboxRelay
from service.relay.reconciler import Reconciler
from service.resilience.breaker import CircuitBreaker
from service.settings import Settings
from sim.calendar_client import SimCalendarClient
from sim.calendar_link import CalendarLink
from sim.config import TwinParams
from sim.flow_driver import ServiceCrashed, SimTasks, drive
from sim.memory_store import MemoryStore
from sim.request_front import Reply, RequestFront
from sim.sim_ports import SeededIds, SimClock, SimCrash, SimWakeup, TwinCounters
from sim.timed_store import TimedStore
from sim.timing import ServiceTiming

if TYPE_CHECKING:
    from contract.workload import PlannedRequest


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
        self.memory = MemoryStore()
        self.counters = TwinCounters()
        self.crash_points = CrashPoints(None)
        self.clock = SimClock(env, link.epoch_s)
        self.client = SimCalendarClient(link)
        self.store = TimedStore(env, self.memory)
        self.crashes: list[float] = []
        self.up = False
        self.incarnation = 0
        self._ids = SeededIds(component_rng(seed, "ids"))
        self._inflight: dict[int, simpy.Process] = {}
        self._serial = 0
        self._processes: set[simpy.Process] = set()  # the incarnation's relay, reconciler, tasks
        self.restart_s = 3.0  # how long a crash keeps it down (the armed crash fault's)
        self.start()

    # -- incarnations ------------------------------------------------------------------------
    def start(self) -> None:
        """Start a fresh process: new breaker, RNGs, queues, relay; the database as it was."""
        self.incarnation += 1
        env = self.env
        settings = self.settings
        self.breaker = CircuitBreaker(self.policies.breaker) if self.protections.breaker else None
        jitter = component_rng(self.seed, "service-jitter", self.incarnation)
        self.timing = ServiceTiming(
            self.params,
            settings.db_pool_size,
            component_rng(self.seed, "service-time", self.incarnation),
        )
        self.store.timing = self.timing
        gateway = CalendarGateway(
            self.client, self.clock, jitter, self.policies.retry, self.breaker, self.counters
        )
        self._processes = set()
        self.ports = Ports(
            settings=settings,
            policies=self.policies,
            clock=self.clock,
            rng=jitter,
            store=self.store,
            gateway=gateway,
            breaker=self.breaker,
            crash=SimCrash(self, self.crash_points),
            ids=self._ids,
            metrics=self.counters,
            relay_wakeup=SimWakeup(env),
            tasks=SimTasks(env, self._processes),
        )
        self.front = RequestFront(self.ports, settings)
        self.up = True
        if settings.relay_enabled:
            self._spawn(OutboxRelay(self.ports).run_forever())
            if settings.reconcile_interval_s > 0:
                self._spawn(Reconciler(self.ports).run_forever())

    def _spawn(self, flow: Coroutine[Any, Any, None]) -> None:
        self._processes.add(self.env.process(_until_death(flow)))

    def arm_crash(self, point: str, nth: int, restart_s: float) -> None:
        """The fault timeline arms crash point `point` for its `nth` passage; the crash keeps
        the service down for `restart_s`."""
        self.crash_points.arm(f"{point}:{nth}")
        self.restart_s = restart_s

    def crash(self) -> None:
        """kill -9: interrupt everything in flight, then restart after `restart_s`."""
        env = self.env
        active = env.active_process
        self.up = False
        self.crashes.append(env.now)
        if self.breaker is not None:
            self.counters.breaker_opens_before += self.breaker.open_count
        for process in [*self._inflight.values(), *self._processes]:
            if process is not active and process.is_alive:
                process.interrupt("crash")
        self._processes.clear()
        restart = env.timeout(self.restart_s)
        restart.callbacks.append(lambda _: self.start())

    def retire(self) -> None:
        """The run is over (its processes closed, `sim.release`): drop the incarnation, whose
        ports refer back to the host — a cycle that would leave the whole database to the cyclic
        collector."""
        self._processes = set()
        del self.ports, self.front

    def breaker_open_count(self) -> int:
        current = self.breaker.open_count if self.breaker is not None else 0
        return self.counters.breaker_opens_before + current

    # -- requests ----------------------------------------------------------------------------
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

    def serve(self, planned: PlannedRequest, arrived: float) -> Generator[Any, Any, Reply]:
        """Answer `planned`, which reached the service at `arrived` (run it with `yield from`
        between `enter` and `leave`; a crash interrupts it with `simpy.Interrupt` or, in the
        process that reached the crash point, `ServiceCrashed`)."""
        # The request's parsing CPU ends at `parsed`; its first transaction begins then — one
        # wait for both (`TimedStore.not_before`, kept for this process only).
        store = self.store
        store.not_before = self.timing.front_cpu(arrived, planned.operation)
        store.not_before_owner = self.env.active_process
        return drive(self.front.reply(planned, self.clock.epoch_s + arrived))


def _until_death(flow: Coroutine[Any, Any, None]) -> Generator[Any, Any, None]:
    """A background flow (relay, reconciler) in its own process, ended by a crash."""
    try:
        yield from drive(flow)
    except (simpy.Interrupt, ServiceCrashed):
        return
