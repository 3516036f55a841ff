"""A small but real run folder, written the way the runner writes one (docs/run_folder.md).

Two scenarios, parsed from YAML with `contract.spec.parse_scenario`, judged with
`contract.results.judge_scenario` and written with `write_jsonl` / `write_results`:

- `healthy`: 6 s of mixed load on a healthy provider; every check holds.
- `outage`: 10 s at 40 rps with a provider outage from 2 to 5 s. The breaker opens, requests
  fast-fail with 202 PENDING, the outbox drains after the outage. It fails its phase-scoped p95
  assertion and, through one duplicated provider event, the duplicate-booking assertion and the
  `no_duplicate_provider_events` invariant (a witness with exact keys and ids).

Deterministic: one `random.Random(seed)`; `latency_scale` makes a slower twin of the same run for
comparison tests.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contract.event_log import write_jsonl
from contract.evidence import (
    AppointmentState,
    AppointmentStatus,
    BreakerState,
    ExternalState,
    MetricSample,
    Operation,
    Outcome,
    Phase,
    ProviderCall,
    ProviderEvent,
    RequestRecord,
    RunEvidence,
)
from contract.results import RunInfo, build_results, judge_scenario, write_results
from contract.spec import Scenario, parse_scenario

HEALTHY_YAML = """\
name: healthy
description: healthy provider, mixed load
seed: 7
load: {users: 10, rate_rps: 30, duration_s: 6, mix: {create: 7, get: 3}}
slo:
  - latency_ms.p95 < 300
  - success_rate >= 0.999
  - calendar.duplicate_bookings == 0
"""

OUTAGE_YAML = """\
name: outage
description: provider outage from 2 to 5 s
seed: 7
load: {users: 20, rate_rps: 40, duration_s: 10, mix: {create: 1}}
faults:
  - {at_s: 2, until_s: 5, target: provider, action: profile, phase: outage, params: {outage: true}}
slo:
  - latency_ms.p95[phase=outage] < 50
  - latency_ms.p95 < 1000
  - circuit_breaker.circuit_breaker_open_count >= 1
  - calendar.duplicate_bookings == 0
  - outbox.backlog_final == 0
"""

OUTAGE = Phase("outage", 2.0, 5.0)
BASE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@dataclass
class _Booking:
    """What one create left behind, gathered while the requests are generated."""

    appointments: list[AppointmentState]
    events: list[ProviderEvent]
    calls: list[ProviderCall]
    attempts: dict[str, int]


def _slot(index: int) -> tuple[str, str, str]:
    start = BASE + timedelta(hours=index // 5)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return f"res-{index % 5}", start.strftime(fmt), (start + timedelta(minutes=30)).strftime(fmt)


def _create(
    scenario: str,
    index: int,
    start_s: float,
    latency_ms: float,
    status: int,
    book: _Booking,
    *,
    attempts: list[tuple[float, str | None, int | None]],
) -> RequestRecord:
    """One create request and what it left: appointment, provider calls (and event when 201)."""
    key = f"{scenario}-key-{index:04d}"
    resource, start, end = _slot(index)
    appointment_id = f"{scenario}-appt-{index:04d}"
    external = ExternalState.CONFIRMED if status == 201 else ExternalState.PENDING
    for n, (t_s, fault, call_status) in enumerate(attempts, start=1):
        book.calls.append(
            ProviderCall(t_s, "POST", f"/calendars/{resource}/events", key, n, fault, call_status)
        )
    book.attempts[f"{scenario}-req-{index:04d}"] = len(attempts)
    book.appointments.append(
        AppointmentState(
            appointment_id,
            resource,
            start,
            end,
            AppointmentStatus.BOOKED,
            ExternalState.CONFIRMED,
            f"evt-{appointment_id}",
            key,
        )
    )
    book.events.append(
        ProviderEvent(f"evt-{appointment_id}", resource, start, end, None, key, start)
    )
    return RequestRecord(
        scenario=scenario,
        seed=7,
        request_id=f"{scenario}-req-{index:04d}",
        idempotency_key=key,
        operation=Operation.CREATE,
        start_s=round(start_s, 6),
        end_s=round(start_s + latency_ms / 1000, 6),
        latency_ms=round(latency_ms, 3),
        http_status=status,
        appointment_id=appointment_id,
        external_state=external,
        replayed=False,
        outcome=Outcome.CONFIRMED if status == 201 else Outcome.PENDING,
    )


def healthy_evidence(rng: random.Random, latency_scale: float) -> RunEvidence:
    """6 s at 30 rps, 70% creates (201) and 30% gets (200), one provider call per create."""
    book = _Booking([], [], [], {})
    requests = []
    for index in range(180):
        start_s = index / 30 + rng.uniform(0, 0.01)
        latency = rng.lognormvariate(2.4, 0.35) * latency_scale
        if index % 10 < 7:
            requests.append(
                _create(
                    "healthy",
                    index,
                    start_s,
                    latency,
                    201,
                    book,
                    attempts=[(start_s + 0.004, None, 201)],
                )
            )
        else:
            requests.append(
                RequestRecord(
                    scenario="healthy",
                    seed=7,
                    request_id=f"healthy-req-{index:04d}",
                    idempotency_key=None,
                    operation=Operation.GET,
                    start_s=round(start_s, 6),
                    end_s=round(start_s + latency / 2000, 6),
                    latency_ms=round(latency / 2, 3),
                    http_status=200,
                    appointment_id=None,
                    external_state=None,
                    replayed=False,
                    outcome=Outcome.OK,
                )
            )
    samples = tuple(
        MetricSample(t / 2, 0, BreakerState.CLOSED, 0, sum(1 for c in book.calls if c.t_s < t / 2))
        for t in range(17)
    )
    return RunEvidence(
        "healthy",
        7,
        "sim",
        6.0,
        tuple(requests),
        tuple(book.events),
        tuple(book.calls),
        tuple(book.appointments),
        (),
        samples,
        3,
        book.attempts,
        0,
    )


def outage_evidence(rng: random.Random, latency_scale: float) -> RunEvidence:
    """10 s at 40 rps; the provider is down from 2 to 5 s; the breaker opens at 2.6 s."""
    book = _Booking([], [], [], {})
    requests = []
    pending: list[tuple[int, str]] = []
    for index in range(400):
        start_s = index / 40 + rng.uniform(0, 0.005)
        if start_s < 2.0 or start_s >= 5.3:
            latency = rng.lognormvariate(2.5, 0.3) * latency_scale
            record = _create(
                "outage",
                index,
                start_s,
                latency,
                201,
                book,
                attempts=[(start_s + 0.005, None, 201)],
            )
        elif start_s < 2.6:  # breaker still closed: three attempts against the dead provider
            latency = (250 + rng.uniform(0, 150)) * latency_scale
            tries = [(start_s + 0.08 * n, "outage", 503) for n in range(3)]
            record = _create("outage", index, start_s, latency, 202, book, attempts=tries)
            pending.append((index, record.idempotency_key or ""))
        else:  # breaker open or half-open: fast 202 PENDING, no call
            latency = rng.uniform(2, 5) * latency_scale
            record = _create("outage", index, start_s, latency, 202, book, attempts=[])
            pending.append((index, record.idempotency_key or ""))
        requests.append(record)
    # The relay drains the outbox after the outage, about 60 rows a second.
    for n, (index, key) in enumerate(pending):
        resource = _slot(index)[0]
        book.calls.append(
            ProviderCall(
                round(5.4 + n / 60, 6), "POST", f"/calendars/{resource}/events", key, 9, None, 201
            )
        )
    # commit_then_fail: the provider booked it, answered 500, and a retry booked it again.
    first = book.events[48]
    book.events.append(
        ProviderEvent(
            "evt-duplicate",
            first.calendar_id,
            first.start,
            first.end,
            None,
            first.idempotency_key,
            first.created_at,
        )
    )
    book.calls.append(
        ProviderCall(
            1.23,
            "POST",
            f"/calendars/{first.calendar_id}/events",
            first.idempotency_key,
            2,
            "commit_then_fail",
            500,
        )
    )
    samples = []
    for step in range(27):
        t = step / 2
        drained = sum(1 for n in range(len(pending)) if 5.4 + n / 60 < t)
        waiting = sum(1 for index, _ in pending if index / 40 < t) - drained
        state = BreakerState.CLOSED
        if 2.5 <= t < 5.0 and t != 3.5:
            state = BreakerState.OPEN
        elif t in (3.5, 5.0):
            state = BreakerState.HALF_OPEN
        calls = [c for c in book.calls if c.t_s < t]
        retries = sum(1 for c in calls if 1 < c.attempt < 9)
        samples.append(MetricSample(t, waiting, state, retries, len(calls), 2 if t >= 4 else 1))
    return RunEvidence(
        "outage",
        7,
        "sim",
        10.0,
        tuple(requests),
        tuple(book.events),
        tuple(book.calls),
        tuple(book.appointments),
        (OUTAGE,),
        tuple(samples),
        3,
        book.attempts,
        0,
    )


def write_run(
    root: Path, *, run_id: str = "run-a", latency_scale: float = 1.0, revision: str = "abc1234"
) -> Path:
    """Write a run folder under root as the runner does; return its results_post.json."""
    rng = random.Random(7)
    run_dir = root / run_id
    entries = []
    scenarios: list[tuple[Scenario, RunEvidence]] = [
        (parse_scenario(HEALTHY_YAML, "healthy.yaml"), healthy_evidence(rng, latency_scale)),
        (parse_scenario(OUTAGE_YAML, "outage.yaml"), outage_evidence(rng, latency_scale)),
    ]
    for scenario, evidence in scenarios:
        folder = run_dir / scenario.name
        digest = write_jsonl(folder / "events.jsonl", evidence.requests)
        write_jsonl(folder / "timeseries.jsonl", evidence.samples)
        (folder / "phases.json").write_text(
            json.dumps([p.__dict__ for p in evidence.phases], indent=1)
        )
        write_jsonl(folder / "provider_calls.jsonl", evidence.provider_calls)
        entries.append(
            judge_scenario(
                scenario,
                evidence,
                duration_s=evidence.duration_s + 3.0,
                event_log=str(folder / "events.jsonl"),
                time_series=str(folder / "timeseries.jsonl"),
                digest=digest,
            )
        )
    run = RunInfo(
        id=run_id,
        mode="sim",
        seed=7,
        started_at="2030-01-07T09:00:00Z",
        duration_s=19.0,
        git_revision=revision,
        host="ci-1",
    )
    results = run_dir / "results_post.json"
    write_results(results, build_results(run, entries))
    return results


def write_sweep(path: Path) -> Path:
    """A sweep CSV (format: reports/capacity_data.py): two configurations, 100–600 rps, plus an
    outage-length sweep; `workers=2` breaks the 300 ms SLO above 300 rps, `workers=4` holds."""
    lines = [
        "config,rate_rps,p50_ms,p95_ms,p99_ms,success_rate,backlog_max,retries_per_request,outage_s"
    ]
    for config, capacity in (("workers=2", 350), ("workers=4", 700)):
        for rate in range(100, 700, 100):
            load = rate / capacity
            p95 = 20 / max(1 - load, 0.04)
            success = 1.0 if load < 0.9 else 0.97
            lines.append(
                f"{config},{rate},{p95 / 2.5:.1f},{p95:.1f},{p95 * 1.4:.1f},{success},0,"
                f"{0.01 * rate / 100:.3f},"
            )
        for outage in (2, 5, 10, 20):
            lines.append(
                f"{config},200,9,25,40,1.0,{int(200 * outage * 400 / capacity)},0.1,{outage}"
            )
    path.write_text("\n".join(lines) + "\n")
    return path


def write_calibration(path: Path) -> Path:
    """A calibration JSON (format: reports/capacity_data.py) with three load levels."""
    levels = [
        {
            "rate_rps": 50,
            "sim_p50_ms": 6.1,
            "sim_p95_ms": 14.2,
            "real_p50_ms": 6.8,
            "real_p95_ms": 15.9,
        },
        {
            "rate_rps": 150,
            "sim_p50_ms": 7.0,
            "sim_p95_ms": 18.5,
            "real_p50_ms": 7.4,
            "real_p95_ms": 17.1,
        },
        {
            "rate_rps": 300,
            "sim_p50_ms": 9.8,
            "sim_p95_ms": 31.0,
            "real_p50_ms": 11.2,
            "real_p95_ms": 40.3,
        },
    ]
    path.write_text(json.dumps({"scenario": "healthy", "levels": levels}, indent=1))
    return path
