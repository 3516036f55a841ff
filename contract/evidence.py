"""What a scenario run gathers, and the metric blocks of results_post.json computed from it.

The evidence is the same in real and sim mode: the real runner fills it from the load driver's
event log, the provider's control API and the service's `/metrics`; the SimPy twin fills it from
its model. Everything downstream (SLO assertions, invariants, results, reports) reads only this.

Time: every `*_s` field is seconds since the start of the scenario's load (t = 0), measured by
whoever gathered it (a monotonic clock in real mode, `env.now` in sim mode). Pure data and pure
functions. The file format lives in `contract.event_log`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any


class Operation(enum.StrEnum):
    """An API operation of the load (DESIGN §3)."""

    CREATE = "create"
    GET = "get"
    LIST = "list"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"


class Outcome(enum.StrEnum):
    """How one request ended, as the client saw it (see `classify_outcome`)."""

    CONFIRMED = "confirmed"
    PENDING = "pending"
    FAILED = "failed"
    OK = "ok"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    SERVER_ERROR = "server_error"
    TRANSPORT_ERROR = "transport_error"


#: Outcomes in which the service did not answer per its contract. Everything else (including a
#: 409 for a held key or a taken slot and a 422 for a bad body, which the load sends on purpose)
#: counts towards `success_rate`.
ERROR_OUTCOMES = frozenset({Outcome.SERVER_ERROR, Outcome.TRANSPORT_ERROR})


class ExternalState(enum.StrEnum):
    """An appointment's state at the calendar provider (DESIGN §3)."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"


class AppointmentStatus(enum.StrEnum):
    """An appointment's lifecycle status in the service."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    FAILED = "failed"


class BreakerState(enum.StrEnum):
    """The service's circuit breaker state as sampled from `/metrics`."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class RequestRecord:
    """One row of the event log: one HTTP request of the load.

    `http_status` is None when no response arrived (connection error, client timeout).
    `body_digest` (sha256 of the canonical request body, when the driver knows it) tells a replay
    of the same body from a reuse of the key with another body; None means "one body per key".
    `as_expected` is False when the driver knew which statuses were correct for this request (a
    create: 201/202; a deliberate slot conflict: 409) and got another one; None when it did not.
    """

    scenario: str
    seed: int
    request_id: str
    idempotency_key: str | None
    operation: Operation
    start_s: float
    end_s: float
    latency_ms: float
    http_status: int | None
    appointment_id: str | None
    external_state: ExternalState | None
    replayed: bool
    outcome: Outcome
    body_digest: str | None = None
    as_expected: bool | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """One event the fake provider holds (its ground truth, docs/provider_api.md)."""

    id: str
    calendar_id: str
    start: str
    end: str
    summary: str | None
    idempotency_key: str | None
    created_at: str

    @classmethod
    def from_json(cls, event: Mapping[str, Any]) -> ProviderEvent:
        """Build from the provider's event JSON; unknown fields are ignored."""
        return cls(
            id=str(event["id"]),
            calendar_id=str(event["calendar_id"]),
            start=str(event["start"]),
            end=str(event["end"]),
            summary=event.get("summary"),
            idempotency_key=event.get("idempotency_key"),
            created_at=str(event.get("created_at", "")),
        )


@dataclass(frozen=True)
class ProviderCall:
    """One row of the provider's call log (`GET /_control/calls`), time moved to the run's clock.

    `status` is None when the provider answered nothing (a hang or a dropped connection);
    `fault` names the injected fault, None when the call was served normally.
    """

    t_s: float
    method: str
    path: str
    idempotency_key: str | None
    attempt: int
    fault: str | None
    status: int | None


@dataclass(frozen=True)
class AppointmentState:
    """One appointment as the service holds it after the drain window."""

    id: str
    resource_id: str
    start: str
    end: str
    status: AppointmentStatus
    external_state: ExternalState | None
    external_id: str | None
    idempotency_key: str | None = None

    @classmethod
    def from_json(
        cls, appointment: Mapping[str, Any], idempotency_key: str | None = None
    ) -> AppointmentState:
        """Build from the service's appointment JSON (DESIGN §3); the key is not in it."""
        external = appointment.get("external_state")
        return cls(
            id=str(appointment["id"]),
            resource_id=str(appointment["resource_id"]),
            start=str(appointment["slot"]["start_time"]),
            end=str(appointment["slot"]["end_time"]),
            status=AppointmentStatus(appointment["status"]),
            external_state=ExternalState(external) if external is not None else None,
            external_id=appointment.get("external_id"),
            idempotency_key=idempotency_key,
        )


@dataclass(frozen=True)
class Phase:
    """A named window of the run (a fault phase or a load step): [start_s, end_s)."""

    name: str
    start_s: float
    end_s: float

    def contains(self, t_s: float) -> bool:
        """True when t_s falls in the half-open window."""
        return self.start_s <= t_s < self.end_s


@dataclass(frozen=True)
class MetricSample:
    """One sample of the service's `/metrics`.

    `breaker_open_count` is the service's own counter when it exposes one; without it the number
    of openings is counted from the sampled states (which can miss a short open spell).
    """

    t_s: float
    outbox_length: int
    breaker_state: BreakerState
    retries_total: int
    calendar_calls_total: int
    breaker_open_count: int | None = None


@dataclass(frozen=True)
class RunEvidence:
    """Everything one scenario run gathered, in either mode.

    `duration_s` is the load's length (the drain window follows it). `retry_bound` is the most
    calendar attempts the service may make for one request (its retry plan's max_attempts);
    `calendar_attempts` maps request_id to the attempts that request made, when the mode knows
    it. `dead_lettered` is the outbox's dead-letter count after the drain. The last of `samples`
    is expected to be taken after the drain window.
    """

    scenario: str
    seed: int
    mode: str
    duration_s: float
    requests: tuple[RequestRecord, ...] = ()
    provider_events: tuple[ProviderEvent, ...] = ()
    provider_calls: tuple[ProviderCall, ...] = ()
    appointments: tuple[AppointmentState, ...] = ()
    phases: tuple[Phase, ...] = ()
    samples: tuple[MetricSample, ...] = ()
    retry_bound: int | None = None
    calendar_attempts: Mapping[str, int] | None = None
    dead_lettered: int | None = None


def classify_outcome(
    operation: Operation, http_status: int | None, external_state: ExternalState | None
) -> Outcome:
    """The outcome of one request, so both modes classify alike.

    No response → transport_error; 5xx → server_error; 409 → conflict; other 4xx → rejected;
    a 2xx create or reschedule → its external state (confirmed | pending | failed), or ok when the
    body carried none; any other 2xx → ok.
    """
    if http_status is None:
        return Outcome.TRANSPORT_ERROR
    if http_status >= 500:
        return Outcome.SERVER_ERROR
    if http_status == 409:
        return Outcome.CONFLICT
    if http_status >= 400:
        return Outcome.REJECTED
    if operation in (Operation.CREATE, Operation.RESCHEDULE) and external_state is not None:
        return {
            ExternalState.CONFIRMED: Outcome.CONFIRMED,
            ExternalState.PENDING: Outcome.PENDING,
            ExternalState.FAILED: Outcome.FAILED,
        }[external_state]
    return Outcome.OK


# --- metrics ---------------------------------------------------------------------------------

#: The shape of `compute_metrics`' result: block → its keys (DESIGN §7). `requests.by_outcome`
#: holds one count per `Outcome`, every key always present.
METRIC_BLOCKS: dict[str, tuple[str, ...]] = {
    "requests": ("total", "by_outcome", "rps", "success_rate"),
    "latency_ms": ("p50", "p95", "p99", "max"),
    "retries": ("retries_total", "per_request_max"),
    "calendar": ("calendar_calls_total", "duplicate_bookings"),
    "circuit_breaker": ("circuit_breaker_open_count", "open_seconds"),
    "outbox": ("backlog_max", "backlog_final", "drain_seconds", "dead_lettered"),
}


def attempts_per_request(
    create_keys: Iterable[str], records: Sequence[RequestRecord]
) -> dict[str, int]:
    """Calendar create attempts per request, from the provider's call log as both modes read it.

    `create_keys`: the key of every create call the provider received (its call log, in any
    order). A key is the appointment's id when the service sends it (its provider key), so the
    attempts are charged to the request that created that appointment — the first non-replayed
    create that answered with it; a key no request accounts for (a legacy call keyed by a body
    fingerprint) stays under its own name.

    >>> r = RequestRecord("s", 1, "req-1", "k", Operation.CREATE, 0.0, 0.1, 100.0, 201, "a-1",
    ...                   ExternalState.CONFIRMED, False, Outcome.CONFIRMED, None, True)
    >>> attempts_per_request(["a-1", "a-1", "fp:x"], [r])
    {'fp:x': 1, 'req-1': 2}
    """
    counts: dict[str, int] = {}
    for key in create_keys:
        counts[key] = counts.get(key, 0) + 1
    creator: dict[str, str] = {}
    for record in records:
        if (
            record.operation is Operation.CREATE
            and record.appointment_id is not None
            and not record.replayed
        ):
            creator.setdefault(record.appointment_id, record.request_id)
    attempts: dict[str, int] = {}
    for key, count in counts.items():
        name = creator.get(key, key)
        attempts[name] = attempts.get(name, 0) + count
    return dict(sorted(attempts.items()))


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p% of values <= it.

    rank = ceil(p/100 · n) over the sorted values (1-based), computed exactly; always a value that
    was observed, never an interpolation. None for no values. p in (0, 100].
    Example: percentile([15, 20, 35, 40, 50], 40) == 20; percentile([15, 20, 35, 40, 50], 50) == 35.
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile p must be in (0, 100] (got {p})")
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(Fraction(str(p)) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]


def request_metrics(records: Sequence[RequestRecord], window_s: float) -> dict[str, Any]:
    """The `requests` and `latency_ms` blocks for some requests seen over a window of window_s."""
    by_outcome = {outcome.value: 0 for outcome in Outcome}
    for record in records:
        by_outcome[record.outcome.value] += 1
    total = len(records)
    # A request fails when the service broke its contract (5xx, no answer) or answered other than
    # the driver knew to be correct (e.g. a 422 to a valid create): either is not a success.
    errors = sum(1 for r in records if r.outcome in ERROR_OUTCOMES or r.as_expected is False)
    latencies = [record.latency_ms for record in records]
    return {
        "requests": {
            "total": total,
            "by_outcome": by_outcome,
            "rps": total / window_s if window_s > 0 else None,
            "success_rate": (total - errors) / total if total else None,
        },
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
            "max": max(latencies) if latencies else None,
        },
    }


def compute_metrics(evidence: RunEvidence) -> dict[str, Any]:
    """The scenario metric blocks of results_post.json (DESIGN §7), shaped as `METRIC_BLOCKS`.

    Counters the service exposes (retries_total, calendar_calls_total, the breaker's open count)
    come from the last sample when there are samples; otherwise from the per-request attempts and
    the provider's call log. A value nobody gathered is None, never a guessed 0.
    """
    metrics = request_metrics(evidence.requests, evidence.duration_s)
    metrics["retries"] = _retry_metrics(evidence)
    samples = evidence.samples
    metrics["calendar"] = {
        "calendar_calls_total": (
            samples[-1].calendar_calls_total if samples else len(evidence.provider_calls)
        ),
        "duplicate_bookings": sum(len(group) - 1 for group in duplicate_event_groups(evidence)),
    }
    metrics["circuit_breaker"] = _breaker_metrics(samples)
    metrics["outbox"] = _outbox_metrics(evidence)
    return metrics


def _retry_metrics(evidence: RunEvidence) -> dict[str, int | None]:
    attempts = list((evidence.calendar_attempts or {}).values())
    from_attempts = sum(max(a - 1, 0) for a in attempts) if attempts else None
    return {
        "retries_total": (
            evidence.samples[-1].retries_total if evidence.samples else from_attempts
        ),
        "per_request_max": max(max(a - 1, 0) for a in attempts) if attempts else None,
    }


def _breaker_metrics(samples: Sequence[MetricSample]) -> dict[str, float | int]:
    openings = 0
    open_seconds = 0.0
    previous = BreakerState.CLOSED
    for here, after in zip(samples, samples[1:], strict=False):
        if here.breaker_state is BreakerState.OPEN:
            open_seconds += after.t_s - here.t_s
    for sample in samples:
        if sample.breaker_state is BreakerState.OPEN and previous is not BreakerState.OPEN:
            openings += 1
        previous = sample.breaker_state
    if samples and samples[-1].breaker_open_count is not None:
        openings = samples[-1].breaker_open_count
    return {"circuit_breaker_open_count": openings, "open_seconds": open_seconds}


def _outbox_metrics(evidence: RunEvidence) -> dict[str, float | int | None]:
    samples = evidence.samples
    if not samples:
        return {
            "backlog_max": None,
            "backlog_final": None,
            "drain_seconds": None,
            "dead_lettered": evidence.dead_lettered,
        }
    final = samples[-1].outbox_length
    drain_seconds: float | None = None
    if final == 0:
        # Drained at the first empty sample after the last non-empty one, counted from load end.
        last_busy = max((i for i, s in enumerate(samples) if s.outbox_length > 0), default=-1)
        drained_at = samples[last_busy + 1].t_s if last_busy >= 0 else samples[0].t_s
        drain_seconds = max(drained_at - evidence.duration_s, 0.0)
    return {
        "backlog_max": max(s.outbox_length for s in samples),
        "backlog_final": final,
        "drain_seconds": drain_seconds,
        "dead_lettered": evidence.dead_lettered,
    }


# --- provider events ↔ appointments ----------------------------------------------------------


def instant(timestamp: str) -> datetime | str:
    """An ISO 8601 timestamp as a comparable, hashable instant ('Z' and '+00:00' alike).

    A timestamp without a zone is taken as UTC (DESIGN §3: times are UTC). A string that is not
    ISO 8601 is returned as is, so it still matches only its own text.
    """
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def slot_key(calendar_id: str, start: str, end: str) -> tuple[str, datetime | str, datetime | str]:
    """The key under which an event and an appointment on one calendar slot meet."""
    return (calendar_id, instant(start), instant(end))


def events_of(evidence: RunEvidence) -> dict[str, list[ProviderEvent]]:
    """Provider events per appointment id: by external_id (any status), or by slot (booked).

    An event matches a booked appointment's slot when it sits on the appointment's calendar
    (calendar_id == resource_id) at exactly its start and end. One event may belong to two
    appointments (a cancelled one whose event was never deleted and the booked one now on that
    slot); both see it.
    """
    by_id = {event.id: event for event in evidence.provider_events}
    by_slot: dict[tuple[str, datetime | str, datetime | str], list[ProviderEvent]] = {}
    for event in evidence.provider_events:
        by_slot.setdefault(slot_key(event.calendar_id, event.start, event.end), []).append(event)
    result: dict[str, list[ProviderEvent]] = {}
    for appointment in evidence.appointments:
        found: dict[str, ProviderEvent] = {}
        if appointment.external_id in by_id:
            found[appointment.external_id] = by_id[appointment.external_id]
        if appointment.status is AppointmentStatus.BOOKED:
            key = slot_key(appointment.resource_id, appointment.start, appointment.end)
            for event in by_slot.get(key, []):
                found.setdefault(event.id, event)
        result[appointment.id] = sorted(found.values(), key=lambda e: e.id)
    return result


def duplicate_event_groups(evidence: RunEvidence) -> list[list[ProviderEvent]]:
    """Groups of more than one provider event that book one thing, sorted for stable output.

    Two events are one booking when they share a non-null idempotency key or belong to one
    appointment (`events_of`); groups are the connected components of that relation.
    """
    parent = {event.id: event.id for event in evidence.provider_events}

    def root(event_id: str) -> str:
        while parent[event_id] != event_id:
            parent[event_id] = parent[parent[event_id]]
            event_id = parent[event_id]
        return event_id

    def join(ids: Iterable[str]) -> None:
        ids = list(ids)
        for other in ids[1:]:
            parent[root(other)] = root(ids[0])

    by_key: dict[str, list[str]] = {}
    for event in evidence.provider_events:
        if event.idempotency_key is not None:
            by_key.setdefault(event.idempotency_key, []).append(event.id)
    for ids in by_key.values():
        join(ids)
    for events in events_of(evidence).values():
        join(event.id for event in events)
    groups: dict[str, list[ProviderEvent]] = {}
    for event in evidence.provider_events:
        groups.setdefault(root(event.id), []).append(event)
    duplicates = [sorted(g, key=lambda e: e.id) for g in groups.values() if len(g) > 1]
    return sorted(duplicates, key=lambda g: g[0].id)
