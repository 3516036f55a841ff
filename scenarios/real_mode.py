"""Real mode: one scenario against the live stack, from load to verdict.

Owns the sequence of a scenario run: reset the fakes, start the service with the scenario's
settings, start the metrics sampler and the fault timeline (wall clock, its own thread), drive the
load (Locust as a subprocess, plus scripted bursts), wait out the drain window, gather the ground
truth, and hand the evidence to the judges. I/O: subprocesses, loopback HTTP, the run folder.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from contract.event_log import write_jsonl
from contract.evidence import Phase, RequestRecord, RunEvidence, attempts_per_request
from contract.fault_schedule import schedule
from contract.invariants import retry_bound
from contract.results import judge_scenario
from contract.scenario_settings import settings_env
from contract.seeds import derive_seed
from contract.spec import CrashFault, NetworkFault, Scenario
from contract.step_notes import step_notes
from contract.workload import ClientStream, WorkloadConfig
from scenarios.actuators import LiveActuator
from scenarios.collect import MetricsSampler, appointment_states, gather_provider, list_appointments
from scenarios.processes import HarnessError, ManagedProcess
from scenarios.records import request_records
from scenarios.scripted import fire_together
from scenarios.stack import ROOT, LiveStack, ServiceSupervisor
from scenarios.timeline import RealtimePlayer
from service.settings import Settings, SettingsError

LOCUST_GRACE_S = 30.0  # Locust gets this long past the load's duration before it is killed


@dataclass(frozen=True)
class RealRun:
    """One scenario's real run: its results entry, notes, event log records and folder."""

    scenario: str
    seed: int
    entry: dict[str, Any]
    notes: list[str]
    requests: tuple[RequestRecord, ...]
    folder: Path


def workload_config(scenario: Scenario, seed: int) -> WorkloadConfig:
    return WorkloadConfig(
        scenario=scenario.name,
        seed=seed,
        resources=scenario.load.resources,
        mix={k: v for k, v in scenario.load.mix.weights().items() if v > 0},
        duplicate_replay_ratio=scenario.load.duplicate_replay_ratio,
        conflicting_slot_ratio=scenario.load.conflicting_slot_ratio,
    )


def run_scenario(
    scenario: Scenario,
    stack: LiveStack,
    seed: int,
    run_dir: Path,
    progress: Callable[[str], None],
    api_key: str | None = None,
) -> RealRun:
    scenario_dir = run_dir / scenario.name
    scenario_dir.mkdir(parents=True, exist_ok=True)
    bound = retry_bound_of(scenario)  # before anything starts: a bad setting stops the run here
    notes: list[str] = []
    # Every component seeded from `seed` as the twin seeds its own (`contract.seeds`).
    stack.reset_faults(seed, toxics=any(isinstance(f, NetworkFault) for f in scenario.faults))
    supervisor = stack.start_service(scenario.name, scenario.settings, seed)
    service_url = stack.service_url(supervisor)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    load = LoadRun(scenario, seed, service_url, scenario_dir, api_key)
    try:
        load.start()  # Locust imports and spawns while the service boots; t=0 once both are up
        if supervisor is not None:
            supervisor.wait_ready()
            if any(isinstance(f, CrashFault) for f in scenario.faults):
                supervisor.prepare_standby()  # booted before the load, to take over at a crash
        wall_start = load.go()
        mono_start = time.monotonic()
        sampler = MetricsSampler(lambda: stack.service_url(supervisor), wall_start, headers=headers)
        actuator = LiveActuator(
            stack.toxiproxy,
            stack.provider_url,
            derive_seed(seed, "provider"),
            _crash_armer(supervisor, service_url, headers),
        )
        player = RealtimePlayer(schedule(scenario.faults), actuator)
        sampler.start()
        player.start(mono_start)
        try:
            rows = load.finish(progress)
            _drain(scenario, sampler, player, mono_start, progress)
        finally:
            player.stop()
            actuator.close()
            sampler.stop()
    finally:
        load.stop()
    final_sample = sampler.sample_now()
    if final_sample is None and supervisor is not None:
        raise HarnessError(f"scenario {scenario.name}: the service did not answer after the run")
    if supervisor is not None and supervisor.unexpected_exit:
        raise HarnessError(f"scenario {scenario.name}: {supervisor.unexpected_exit}")
    notes.extend(actuator.notes)
    notes.extend(player.errors)
    if supervisor is not None and supervisor.crashes:
        notes.append(f"service crashed {len(supervisor.crashes)}x at its crash point and restarted")
        notes.extend(supervisor.late_restarts)
    duration_s = time.monotonic() - mono_start
    appointments = appointment_states(list_appointments(service_url, headers))
    events, calls, raw_calls = gather_provider(stack.provider_url, wall_start)
    dead_lettered = _dead_lettered(service_url, headers)
    if supervisor is not None:
        supervisor.stop()
    stack.drop_scratch_databases()
    records = request_records(rows, wall_start)
    player.close_open_phases(duration_s)
    phases = _phases(scenario, player, duration_s)
    notes.extend(step_notes(scenario, records, phases))
    attempts = attempts_per_request(
        (call.get("key") or "" for call in raw_calls if call.get("op") == "create"), records
    )
    evidence = RunEvidence(
        scenario=scenario.name,
        seed=seed,
        mode="real",
        duration_s=round(scenario.load.duration_s, 6),
        requests=tuple(records),
        provider_events=tuple(events),
        provider_calls=tuple(calls),
        appointments=tuple(appointments),
        phases=phases,
        samples=tuple(sampler.samples),
        retry_bound=bound,
        calendar_attempts=attempts,
        dead_lettered=dead_lettered,
    )
    event_log = scenario_dir / "events.jsonl"
    digest = write_jsonl(event_log, records)
    series = scenario_dir / "timeseries.jsonl"
    write_jsonl(series, sampler.samples)
    (scenario_dir / "phases.json").write_text(json.dumps([p.__dict__ for p in phases], indent=1))
    write_jsonl(scenario_dir / "provider_calls.jsonl", calls)
    entry = judge_scenario(
        scenario,
        evidence,
        duration_s=round(duration_s, 3),
        event_log=_shown_path(event_log),
        time_series=_shown_path(series),
        digest=digest,
    )
    return RealRun(scenario.name, seed, entry, notes, evidence.requests, scenario_dir)


def _phases(scenario: Scenario, player: RealtimePlayer, duration_s: float) -> tuple[Phase, ...]:
    """Fault phases as they happened (wall clock), load-shape phases as planned."""
    recorded = {
        w.name: Phase(w.name, round(w.start_s, 6), round(w.end_s or duration_s, 6))
        for _, w in sorted(player.phases.items())
    }
    planned = {p.name: p for p in scenario.declared_phases()}
    merged = {**planned, **recorded}
    return tuple(sorted(merged.values(), key=lambda p: (p.start_s, p.name)))


def _crash_armer(supervisor: ServiceSupervisor | None, url: str, headers: dict[str, str]):
    if supervisor is None:
        return None

    def arm(point: str, nth: int, restart_s: float) -> None:
        supervisor.restart_s = restart_s  # the standby opens the port this long after the crash
        response = httpx.post(
            f"{supervisor.url}/v1/admin/crash",
            json={"point": point, "nth": nth},
            headers=headers,
            timeout=5,
        )
        if response.status_code != 200:
            raise RuntimeError(f"arming crash point {point} failed: {response.status_code}")

    return arm


class LoadRun:
    """The load of one scenario: Locust as its own process plus the scripted bursts.

    `start` launches Locust; `go` waits until its users are spawned (a marker file), then fixes
    the run's t=0 and hands it to Locust (a start file), so the offered schedule lines up with
    the fault timeline instead of lagging by Locust's start-up; `finish` fires the bursts and
    waits for Locust to stop itself at t=0 + duration.
    """

    READY_TIMEOUT_S = 60.0

    def __init__(self, scenario, seed, url, scenario_dir: Path, api_key: str | None) -> None:
        self.scenario, self.seed, self.url, self.api_key = scenario, seed, url, api_key
        self.dir = scenario_dir
        self.rows_path = scenario_dir / "locust_rows.jsonl"
        self.ready_path = scenario_dir / "locust.ready"
        self.start_path = scenario_dir / "locust.start"
        self.process: ManagedProcess | None = None

    def start(self) -> None:
        load = self.scenario.load
        for stale in (self.rows_path, self.ready_path, self.start_path):
            stale.unlink(missing_ok=True)
        config = {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "users": load.users,
            "rate_rps": load.rate_rps,
            "shape": [s.model_dump() for s in load.shape] if load.shape else None,
            "duration_s": load.duration_s,
            "resources": load.resources,
            "mix": {k: v for k, v in load.mix.weights().items() if v > 0},
            "duplicate_replay_ratio": load.duplicate_replay_ratio,
            "conflicting_slot_ratio": load.conflicting_slot_ratio,
            "event_log": str(self.rows_path),
            "ready_file": str(self.ready_path),
            "start_file": str(self.start_path),
            "api_key": self.api_key,
        }
        config_path = self.dir / "load.json"
        config_path.write_text(json.dumps(config, indent=1))
        argv = [
            sys.executable, "-m", "locust", "-f", str(ROOT / "scenarios" / "locustfile.py"),
            "--headless", "--only-summary", "--loglevel", "WARNING",
            "-u", str(load.users), "-r", str(max(load.users, 1) * 10),
            # An upper bound only: the locustfile quits at t=0 + duration (+ a grace for replies).
            "--run-time", f"{round(load.duration_s + LOCUST_GRACE_S + self.READY_TIMEOUT_S)}s",
            "--stop-timeout", "5", "--host", self.url, "--exit-code-on-error", "0",
        ]  # fmt: skip
        self.process = ManagedProcess(
            "locust",
            argv,
            self.dir / "locust.log",
            env={**_env(), "REHEARSAL_LOAD": str(config_path)},
            cwd=ROOT,
        )
        self.process.start()

    def go(self) -> float:
        """Wait for Locust's users, then start the clock; returns t=0 as wall-clock seconds."""
        assert self.process is not None
        deadline = time.monotonic() + self.READY_TIMEOUT_S
        while not self.ready_path.exists():
            if self.process.returncode is not None:
                raise HarnessError(
                    f"Locust exited with {self.process.returncode} before starting; last lines:\n"
                    f"{self.process.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise HarnessError(f"Locust was not ready within {self.READY_TIMEOUT_S:.0f} s")
            time.sleep(0.02)
        t0 = time.time()
        tmp = self.start_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"t0_wall": t0}))
        tmp.replace(self.start_path)  # atomic: Locust never reads half a file
        return t0

    def finish(self, progress: Callable[[str], None]) -> list[dict[str, Any]]:
        assert self.process is not None
        load, rows = self.scenario.load, []
        burst = load.concurrent_same_key
        if burst.groups:
            rows.extend(
                _same_key_bursts(
                    self.scenario, self.seed, self.url, self.api_key, burst.groups, burst.size
                )
            )
        race = load.concurrent_same_slot
        if race.groups:
            rows.extend(
                _same_slot_races(
                    self.scenario, self.seed, self.url, self.api_key, race.groups, race.size
                )
            )
        deadline = time.monotonic() + load.duration_s + LOCUST_GRACE_S
        while self.process.returncode is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.process.returncode is None:
            raise HarnessError(f"Locust did not finish within {load.duration_s + LOCUST_GRACE_S} s")
        if self.process.returncode != 0:
            raise HarnessError(
                f"Locust exited with {self.process.returncode}; last lines:\n"
                f"{self.process.log_tail()}"
            )
        if self.rows_path.exists():
            rows.extend(
                json.loads(line) for line in self.rows_path.read_text().splitlines() if line
            )
        if not rows:
            raise HarnessError(f"the load made no requests; see {self.dir / 'locust.log'}")
        progress(f"load done: {len(rows)} requests")
        return rows

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def _same_key_bursts(scenario, seed, url, api_key, groups, size) -> list[dict[str, Any]]:
    """`groups` bursts of `size` simultaneous creates sharing one key (client ids 1000+, past any Locust user)."""
    rows: list[dict[str, Any]] = []
    config = workload_config(scenario, seed)
    for group in range(groups):
        stream = ClientStream(config, 1_000 + group)
        planned = stream.next_request()
        while planned.operation != "create":
            planned = stream.next_request()
        # All but the first may find the key still in flight: 409 is a correct answer for them.
        planned = dataclasses.replace(planned, expected_statuses=(201, 202, 409))
        rows.extend(asyncio.run(fire_together(url, [planned] * size, scenario.name, seed, api_key)))
    return rows


def _same_slot_races(scenario, seed, url, api_key, groups, size) -> list[dict[str, Any]]:
    """`groups` bursts of `size` simultaneous creates for one slot with distinct keys (client ids
    2000+): the database must let exactly one win each slot."""
    rows: list[dict[str, Any]] = []
    config = workload_config(scenario, seed)
    for group in range(groups):
        racers = ClientStream(config, 2_000 + group).slot_race(size)
        rows.extend(asyncio.run(fire_together(url, racers, scenario.name, seed, api_key)))
    return rows


def _drain(scenario, sampler: MetricsSampler, player: RealtimePlayer, mono_start, progress) -> None:
    """Wait out the drain window; leave early once the timeline is done and the outbox is empty."""
    end = mono_start + scenario.run_s
    timeline_end = max((f.until_s or 0.0 for f in scenario.faults), default=0.0) + mono_start
    while time.monotonic() < end:
        last = sampler.samples[-1] if sampler.samples else None
        if (
            time.monotonic() >= timeline_end
            and last is not None
            and last.outbox_length == 0
            and time.monotonic() - mono_start >= scenario.load.duration_s + 0.5
        ):
            break
        time.sleep(0.1)
    progress("drained" if time.monotonic() < end else "drain window over")


def _dead_lettered(url: str, headers: dict[str, str]) -> int | None:
    try:
        response = httpx.get(f"{url}/v1/admin/outbox", headers=headers, timeout=5)
        if response.status_code == 200:
            return int(response.json().get("dead_lettered", 0))
    except (httpx.HTTPError, ValueError):
        pass
    return None


def _shown_path(path: Path) -> str:
    """Paths in results: relative to the project when under it (results travel with the tree)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def retry_bound_of(scenario: Scenario) -> int:
    """The contract's bound for the service's settings, read as the service reads them on start
    (the same variables the stack gives it): its defaults and profile, not a copy of them."""
    try:
        settings = Settings.from_env(settings_env(scenario.settings))
    except SettingsError as exc:
        raise HarnessError(f"scenario {scenario.name}: settings: {exc}") from exc
    return retry_bound(settings.retry_max_attempts, settings.outbox_max_attempts)
