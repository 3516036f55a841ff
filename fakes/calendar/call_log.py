"""What the fake has been asked: the call log and the attempt counters.

In memory, no I/O, no clock: times and measured latencies arrive from the caller. Attempts are
counted per (operation, key) starting at 1, so the n-th arrival of the same request gets attempt n
whatever else is going on; that number feeds the pure fault decision.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    """One events-API call as the fake saw it.

    `time` is the arrival time (Unix seconds). `key` is what faults and attempts are keyed by (see
    `key_source`: "header", "id" or "fingerprint"); `idempotency_key` is the header as sent, if
    any. `fault` is the injected fault (`fault_rules.Fault` value), None when served normally.
    `status` is the status of the complete response the caller received, None when it received
    none (connection dropped, or it gave up during a hang). `latency_ms` is arrival to answer (or
    to giving up), queueing included.
    """

    seq: int
    time: float
    method: str
    path: str
    op: str
    key: str
    key_source: str
    idempotency_key: str | None
    attempt: int
    fault: str | None
    status: int | None
    latency_ms: float
    event_id: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class CallLog:
    """Completed calls, in arrival order (`seq`), and how many calls are still in flight."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._next_seq = 1
        self.in_flight = 0

    def begin(self) -> int:
        """A call has arrived: count it in flight and return its sequence number."""
        seq = self._next_seq
        self._next_seq += 1
        self.in_flight += 1
        return seq

    def end(self) -> None:
        """A call has been answered (or abandoned); pair every `begin` with one `end`."""
        self.in_flight -= 1

    def append(self, record: CallRecord) -> None:
        self._records.append(record)

    def records(self) -> list[CallRecord]:
        return sorted(self._records, key=lambda record: record.seq)

    def clear(self) -> None:
        """Forget completed calls; calls in flight still count, and still log when they end."""
        self._records.clear()
        self._next_seq = 1


class AttemptCounter:
    """Arrivals per (operation, key)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()

    def next_attempt(self, operation: str, key: str) -> int:
        """Count one more arrival of (operation, key) and return its attempt number (1-based)."""
        self._counts[operation, key] += 1
        return self._counts[operation, key]

    def clear(self) -> None:
        self._counts.clear()
