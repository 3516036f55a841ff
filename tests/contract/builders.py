"""Evidence builders for the judge tests: a clean run, and small pieces to break it with.

A clean run books `count` appointments on `resources` resources, one hour apart per resource, each
CONFIRMED with exactly one provider event on its calendar at its slot, acknowledged by one 201,
and replayed `replays` times with the same answer.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from contract.evidence import (
    AppointmentState,
    AppointmentStatus,
    BreakerState,
    ExternalState,
    MetricSample,
    Operation,
    Outcome,
    Phase,
    ProviderEvent,
    RequestRecord,
    RunEvidence,
)

BASE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with a Z, as the service writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def appointment(index: int, resources: int = 2, **changes: object) -> AppointmentState:
    """The index-th appointment of a clean run."""
    start = BASE + timedelta(hours=index // resources)
    state = AppointmentState(
        id=f"appt-{index}",
        resource_id=f"res-{index % resources}",
        start=iso(start),
        end=iso(start + timedelta(minutes=30)),
        status=AppointmentStatus.BOOKED,
        external_state=ExternalState.CONFIRMED,
        external_id=f"evt-{index}",
        idempotency_key=f"key-{index}",
    )
    return dataclasses.replace(state, **changes)  # type: ignore[arg-type]


def event_for(state: AppointmentState, **changes: object) -> ProviderEvent:
    """The provider event that confirms state (start written with +00:00, as providers may)."""
    event = ProviderEvent(
        id=state.external_id or f"evt-{state.id}",
        calendar_id=state.resource_id,
        start=state.start.replace("Z", "+00:00"),
        end=state.end,
        summary=None,
        idempotency_key=f"provider-{state.id}",
        created_at=state.start,
    )
    return dataclasses.replace(event, **changes)  # type: ignore[arg-type]


def record(
    request_id: str,
    state: AppointmentState | None,
    *,
    start_s: float,
    latency_ms: float = 20.0,
    http_status: int | None = 201,
    replayed: bool = False,
    operation: Operation = Operation.CREATE,
    **changes: object,
) -> RequestRecord:
    """One event-log row; the outcome follows the status as `classify_outcome` would."""
    outcome = {
        201: Outcome.CONFIRMED,
        202: Outcome.PENDING,
        200: Outcome.OK,
        409: Outcome.CONFLICT,
        422: Outcome.REJECTED,
        503: Outcome.SERVER_ERROR,
        None: Outcome.TRANSPORT_ERROR,
    }[http_status]
    row = RequestRecord(
        scenario="test",
        seed=1,
        request_id=request_id,
        idempotency_key=state.idempotency_key if state else None,
        operation=operation,
        start_s=start_s,
        end_s=start_s + latency_ms / 1000,
        latency_ms=latency_ms,
        http_status=http_status,
        appointment_id=state.id if state and http_status in (200, 201, 202) else None,
        external_state=ExternalState.CONFIRMED if http_status == 201 else None,
        replayed=replayed,
        outcome=outcome,
    )
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def clean_evidence(count: int = 6, resources: int = 2, replays: int = 2) -> RunEvidence:
    """A run in which every invariant holds."""
    states = [appointment(i, resources) for i in range(count)]
    requests = [record(f"req-{i}", s, start_s=i * 0.5) for i, s in enumerate(states)]
    for j in range(replays):
        state = states[j % count]
        requests.append(record(f"replay-{j}", state, start_s=5 + j * 0.1, replayed=True))
    return RunEvidence(
        scenario="test",
        seed=1,
        mode="sim",
        duration_s=10.0,
        requests=tuple(requests),
        provider_events=tuple(event_for(s) for s in states),
        appointments=tuple(states),
        phases=(Phase("outage", 2.0, 4.0),),
        samples=(
            MetricSample(0.0, 0, BreakerState.CLOSED, 0, 0),
            MetricSample(12.0, 0, BreakerState.CLOSED, 0, count),
        ),
        retry_bound=3,
        # The requests of the outage phase retried through it (and so met its fault).
        calendar_attempts={
            r.request_id: 2 if 2.0 <= r.start_s < 4.0 else 1 for r in requests if not r.replayed
        },
        dead_lettered=0,
    )


def with_changes(evidence: RunEvidence, **changes: object) -> RunEvidence:
    """A copy of evidence with some fields replaced."""
    return dataclasses.replace(evidence, **changes)  # type: ignore[arg-type]
