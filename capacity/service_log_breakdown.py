"""Where a real run's time went, read from its scenario folder: the raw material of `--fit`.

Owns reading three things a real-mode scenario folder holds (docs/run_folder.md) and reducing
them to medians:

- `service.log`, the service's JSON log: each "appointment create answered" line splits one
  create into `db_txn1_ms` (key claim + insert, committed), `calendar_ms` (the provider call
  through the proxy) and `db_txn2_ms` (recording the result); each access-log line ("request")
  gives one request's server-side latency by route;
- `events.jsonl`: each request's latency as the load driver saw it, by operation.

Client minus server latency is the HTTP trip the twin calls `client_rtt_ms`. Medians, not
means: a run on a shared machine has stalls that are not the service's. Pure apart from
`read_breakdown`, which reads the two files.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CREATE_ANSWERED = "appointment create answered"
ACCESS = "request"
#: (method, route template) of the access log → the load's operation name.
ROUTES = {
    ("POST", "/v1/appointments"): "create",
    ("GET", "/v1/appointments/{appointment_id}"): "get",
    ("GET", "/v1/appointments"): "list",
    ("POST", "/v1/appointments/{appointment_id}/cancel"): "cancel",
    ("POST", "/v1/appointments/{appointment_id}/reschedule"): "reschedule",
}
CREATE_PARTS = ("db_txn1_ms", "calendar_ms", "db_txn2_ms", "total_ms")


@dataclass(frozen=True)
class Breakdown:
    """Medians of one or more runs (ms). Empty dicts when a file held nothing usable."""

    creates: int = 0  # create lines with a full breakdown
    create_parts: dict[str, float] = field(default_factory=dict)  # CREATE_PARTS → median
    server_ms: dict[str, float] = field(default_factory=dict)  # operation → median
    client_ms: dict[str, float] = field(default_factory=dict)  # operation → median
    counts: dict[str, int] = field(default_factory=dict)  # operation → requests seen by client

    def client_overhead_ms(self) -> float | None:
        """Client minus server latency, per operation, weighted by how often each was sent."""
        pairs = [
            (self.client_ms[op] - self.server_ms[op], self.counts.get(op, 0))
            for op in self.client_ms
            if op in self.server_ms
        ]
        weight = sum(n for _, n in pairs)
        if not weight:
            return None
        return sum(diff * n for diff, n in pairs) / weight

    def as_json(self) -> dict[str, Any]:
        return {
            "creates": self.creates,
            "create_parts": self.create_parts,
            "server_ms": self.server_ms,
            "client_ms": self.client_ms,
            "counts": self.counts,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Breakdown:
        return cls(
            creates=int(data.get("creates", 0)),
            create_parts={k: float(v) for k, v in data.get("create_parts", {}).items()},
            server_ms={k: float(v) for k, v in data.get("server_ms", {}).items()},
            client_ms={k: float(v) for k, v in data.get("client_ms", {}).items()},
            counts={k: int(v) for k, v in data.get("counts", {}).items()},
        )


def summarize(
    log_records: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
) -> Breakdown:
    """Medians from parsed service-log records and event-log records (of one or more runs)."""
    parts: dict[str, list[float]] = {name: [] for name in CREATE_PARTS}
    creates = 0
    server: dict[str, list[float]] = {}
    for record in log_records:
        message = record.get("msg")
        if message == CREATE_ANSWERED and record.get("status") == 201:
            values = [record.get(name) for name in CREATE_PARTS]
            if all(isinstance(v, int | float) for v in values):
                creates += 1
                for name, value in zip(CREATE_PARTS, values, strict=True):
                    parts[name].append(float(value))  # type: ignore[arg-type]  # checked above
        elif message == ACCESS:
            operation = ROUTES.get((str(record.get("method")), str(record.get("route"))))
            latency = record.get("latency_ms")
            if operation and isinstance(latency, int | float) and record.get("status", 0) < 500:
                server.setdefault(operation, []).append(float(latency))
    client: dict[str, list[float]] = {}
    for event in events:
        latency = event.get("latency_ms")
        if event.get("http_status") is not None and isinstance(latency, int | float):
            client.setdefault(str(event.get("operation")), []).append(float(latency))
    return Breakdown(
        creates=creates,
        create_parts={k: _median(v) for k, v in parts.items() if v},
        server_ms={k: _median(v) for k, v in sorted(server.items())},
        client_ms={k: _median(v) for k, v in sorted(client.items())},
        counts={k: len(v) for k, v in sorted(client.items())},
    )


def median_breakdown(breakdowns: Sequence[Breakdown]) -> Breakdown:
    """Several sessions' breakdowns as one: each median the median of the sessions' (where
    given), each count the sum."""

    def medians(field: str) -> dict[str, float]:
        keys = sorted({k for b in breakdowns for k in getattr(b, field)})
        return {
            k: _median([getattr(b, field)[k] for b in breakdowns if k in getattr(b, field)])
            for k in keys
        }

    counts: dict[str, int] = {}
    for b in breakdowns:
        for k, n in b.counts.items():
            counts[k] = counts.get(k, 0) + n
    return Breakdown(
        creates=sum(b.creates for b in breakdowns),
        create_parts=medians("create_parts"),
        server_ms=medians("server_ms"),
        client_ms=medians("client_ms"),
        counts=dict(sorted(counts.items())),
    )


def read_breakdown(folders: Iterable[Path]) -> Breakdown:
    """The breakdown of the real runs in these scenario folders, pooled (medians over all)."""
    records: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for folder in folders:
        records.extend(_json_lines(folder / "service.log"))
        events.extend(_json_lines(folder / "events.jsonl"))
    return summarize(records, events)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith("{"):
            continue  # a traceback or a line some library printed outside the JSON formatter
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)
