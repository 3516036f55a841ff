"""One scenario run of the twin, from load to evidence: `simulate(scenario, seed, overrides)`.

Builds the model in a fresh `simpy.Environment` — the provider (`sim.provider`), the network
path between it and the service (`sim.network`), the service host with its flows, relay and
crash points (`sim.host`), the clients (`sim.clients`), the fault timeline (`sim.timeline`) and
the metrics sampler (`sim.sampler`) — runs it for the load plus the drain window in virtual time
(nothing sleeps), gathers the same `RunEvidence` real mode gathers, and lets the model go
(`sim.release`), all with the cyclic garbage collector paused. Deterministic: the same
(scenario, seed, overrides, params) gives the same evidence in any process (`sim.components`).

This is the call sweeps, calibration and shrinking make: plain data in (a `Scenario` or a
scenario with `overrides`), plain data out, no files, no global state.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import operator
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import simpy

from contract.evidence import (
    AppointmentState,
    AppointmentStatus,
    ExternalState,
    RunEvidence,
    attempts_per_request,
)
from contract.invariants import retry_bound
from contract.seeds import component_rng, derive_seed
from contract.spec import Scenario
from service.booking.model import isoformat_utc
from service.resilience.lifecycle import AppointmentStatus as ServiceStatus
from service.resilience.lifecycle import ExternalState as ServiceExternal
from service.resilience.records import record_maker
from service.settings import Settings
from sim.calendar_link import CalendarLink
from sim.clients import LoadModel
from sim.config import TwinParams, apply_overrides
from sim.host import ServiceHost
from sim.network import NetworkPath
from sim.provider import SIM_EPOCH, SimProvider
from sim.release import release_run
from sim.sampler import MetricSampler
from sim.service_settings import service_settings, unknown_settings
from sim.timeline import TimelinePlayer

# The service's lifecycle enums → the evidence's (same values), by member: no `.value` per row.
_STATUS = {s: AppointmentStatus(s.value) for s in ServiceStatus}
_EXTERNAL = {s: ExternalState(s.value) for s in ServiceExternal}
_new_appointment = record_maker(AppointmentState)
_BY_START = operator.attrgetter("start_s", "request_id")


@dataclass(frozen=True)
class SimRun:
    """A twin run: its evidence, and notes worth printing beside the verdict."""

    evidence: RunEvidence
    notes: tuple[str, ...]
    run_s: float


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    params: TwinParams | None = None,
) -> RunEvidence:
    """Run `scenario` in the twin and return what real mode would have gathered.

    `seed` defaults to the scenario's own; `overrides` are dotted keys (`load.rate_rps`,
    `settings.retry_max_attempts`, `twin.cpu_create_ms`, see `sim.config.apply_overrides`).

    >>> from contract.spec import parse_scenario
    >>> s = parse_scenario("name: t\\ndescription: d\\nload: {rate_rps: 20, users: 2, duration_s: 1}")
    >>> evidence = simulate(s, seed=3)
    >>> len(evidence.requests), {r.outcome.value for r in evidence.requests}
    (20, {'confirmed'})
    """
    return simulate_run(scenario, seed, overrides, params).evidence


def simulate_run(
    scenario: Scenario,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    params: TwinParams | None = None,
) -> SimRun:
    """`simulate`, with the notes the runner prints (ignored settings, crashes and restarts)."""
    scenario, params = apply_overrides(scenario, overrides, params)
    seed = scenario.seed if seed is None else seed
    settings = service_settings(scenario.settings)
    notes = [
        f"setting '{name}' is not a service setting; both modes ignore it"
        for name in unknown_settings(scenario.settings)
    ]
    run_s = scenario.run_s
    env = simpy.Environment()
    # Every component's seed from the run seed, as real mode derives them (`contract.seeds`).
    provider_seed = derive_seed(seed, "provider")
    provider = SimProvider(env, provider_seed)
    network = NetworkPath(params.provider_rtt_ms / 2000.0, component_rng(seed, "proxy"))
    link = CalendarLink(env, network, provider, params, SIM_EPOCH.timestamp())
    host = ServiceHost(env, settings, params, link, seed)
    load = LoadModel(env, scenario, seed, host, params)
    timeline = TimelinePlayer(env, scenario, provider_seed, provider, network, host)
    sampler = MetricSampler(env, host, run_s)
    with _collector_paused(), _service_logs_quiet():
        env.run(until=run_s)
        sampler.final()
        evidence = _evidence(
            scenario, seed, settings, run_s, load, provider, host, timeline, sampler
        )
        release_run(env)
        host.retire()
    if host.crashes:
        times = ", ".join(f"{t:.3f}" for t in host.crashes)
        notes.append(
            f"service crashed {len(host.crashes)}x at its crash point (t={times} s) and restarted"
        )
    if host.crash_points.armed is not None:
        notes.append(f"crash point {host.crash_points.armed} was armed but not reached")
    return SimRun(evidence, tuple(notes), run_s)


def _evidence(
    scenario: Scenario,
    seed: int,
    settings: Settings,
    run_s: float,
    load: LoadModel,
    provider: SimProvider,
    host: ServiceHost,
    timeline: TimelinePlayer,
    sampler: MetricSampler,
) -> RunEvidence:
    """What the run gathered, as real mode gathers it."""
    records = tuple(sorted(load.records, key=_BY_START))
    return RunEvidence(
        scenario=scenario.name,
        seed=seed,
        mode="sim",
        duration_s=round(scenario.load.duration_s, 6),
        requests=records,
        provider_events=tuple(provider.events()),
        provider_calls=tuple(provider.calls(run_s)),
        appointments=tuple(_appointments(host)),
        phases=tuple(timeline.phases(run_s)),
        samples=tuple(sampler.samples),
        retry_bound=retry_bound(settings.retry_max_attempts, settings.outbox_max_attempts),
        calendar_attempts=attempts_per_request(provider.create_calls(), records),
        dead_lettered=host.memory.dead_lettered,
    )


@contextlib.contextmanager
def _service_logs_quiet() -> Iterator[None]:
    """The service's flows log as they would in production (compensations, dead letters); in the
    twin nobody reads those lines, and thousands of them would go to stderr through logging's
    last-resort handler. Silenced for the run, restored after."""
    logger = logging.getLogger("service")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the run and the gathering of its evidence: a
    run allocates millions of short objects and keeps what it gathers to the end, so the
    collector's passes only cost time (10-20% of a run). Reference counting still frees
    everything acyclic at once, and `sim.release` leaves the model acyclic before it resumes."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _appointments(host: ServiceHost) -> list[AppointmentState]:
    # AppointmentState(id, resource_id, start, end, status, external_state, external_id,
    # idempotency_key): as real mode reads them from `GET /v1/appointments` (no key there)
    return [
        _new_appointment(
            a.id,
            a.resource_id,
            isoformat_utc(a.start_time),
            isoformat_utc(a.end_time),
            _STATUS[a.status],
            _EXTERNAL[a.external_state],
            a.external_id,
            None,
        )
        for a in host.memory.appointments()
    ]
