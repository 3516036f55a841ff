"""Driver rows → event-log records: the one place real-mode request rows become `RequestRecord`s.

The Locust profile and the scripted driver write raw rows with wall-clock stamps and their own
operation names (`replay`, `conflict` are creates with a purpose); this turns them into the
records both modes share, with times as offsets from the run's start, in a stable order.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from contract.evidence import ExternalState, Operation, RequestRecord, classify_outcome

_OPERATION = {
    "create": Operation.CREATE,
    "replay": Operation.CREATE,
    "conflict": Operation.CREATE,
    "get": Operation.GET,
    "list": Operation.LIST,
    "cancel": Operation.CANCEL,
    "reschedule": Operation.RESCHEDULE,
}


def request_record(row: Mapping[str, Any], started_wall: float) -> RequestRecord:
    operation = _OPERATION[row["operation"]]
    status = row.get("http_status")
    state_text = row.get("external_state")
    state = ExternalState(state_text) if state_text in ExternalState.__members__ else None
    start_s = round(float(row["start_wall"]) - started_wall, 6)
    end_s = round(float(row["end_wall"]) - started_wall, 6)
    expected = row.get("expected_statuses")
    return RequestRecord(
        scenario=row["scenario"],
        seed=int(row["seed"]),
        request_id=row["request_id"],
        idempotency_key=row.get("idempotency_key"),
        operation=operation,
        start_s=start_s,
        end_s=end_s,
        latency_ms=round((float(row["end_wall"]) - float(row["start_wall"])) * 1000.0, 3),
        http_status=status,
        appointment_id=row.get("appointment_id") if status in (200, 201, 202) else None,
        external_state=state,
        replayed=bool(row.get("replayed")),
        outcome=classify_outcome(operation, status, state),
        body_digest=row.get("body_digest"),
        as_expected=None if expected is None else status in expected,
    )


def request_records(rows: Iterable[Mapping[str, Any]], started_wall: float) -> list[RequestRecord]:
    """Records ordered by start time, then request id, so the log's order does not depend on
    which driver process wrote first."""
    records = [request_record(row, started_wall) for row in rows]
    return sorted(records, key=lambda r: (r.start_s, r.request_id))
