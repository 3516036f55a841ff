"""The service's database in memory: appointments (and reschedule holds), keys, outbox rows.

The twin of `service/db/`: what a committed transaction leaves behind, kept across crashes.
Owns the tables and their indexes — the overlap rule (a booked row or hold owns its slot; a
cancelled or failed one frees it), idempotency records (`service.resilience.idempotency`
`KeyRecord`s with the appointment they guard), and outbox rows with their lease, schedule,
dead-letter and ambiguity flags. Lifecycle changes go through
`service.resilience.lifecycle.transition` only. Must not decide outcomes (that is
`sim.settle` and the flows) and must not wait: callers apply a transaction when it commits.

Outbox rows are indexed as the table is (by due time, and by lease for claimed rows), so a
claim costs what it claims, not the backlog: two heaps whose entries are checked against the
row when popped (a row that changed since is skipped, or found again under its new key).

Simplified: the overlap rule compares exact (resource, start) slots, which is exact for the
workload's fixed 30-minute grid (`scenarios.workload.slot_for`) and nothing else; one tenant.
Pure: time arrives as `now`.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from service.resilience.idempotency import KeyRecord
from service.resilience.lifecycle import (
    AppointmentStatus,
    ExternalState,
    LifecycleEvent,
    transition,
)

CREATE_EVENT = "create_event"
DELETE_EVENT = "delete_event"
RESCHEDULE_EVENT = "reschedule_event"

BOOKED = AppointmentStatus.BOOKED
_BY_ID = operator.attrgetter("id")


class Appointment:
    """One appointments row (a hold when `hold_for` names the appointment it reserves for)."""

    __slots__ = (
        "id",
        "resource_id",
        "start",
        "end",
        "start_dt",
        "end_dt",
        "summary",
        "status",
        "external",
        "external_id",
        "event_id",
        "key",
        "request_id",
        "hold_for",
    )

    def __init__(
        self,
        id: str,
        resource_id: str,
        start: str,
        end: str,
        summary: str,
        event_id: str | None,
        key: str | None,
        request_id: str | None,
        hold_for: str | None = None,
    ) -> None:
        self.id = id
        self.resource_id = resource_id
        self.start = start  # ISO 8601 UTC with Z, as the service answers it
        self.end = end
        self.start_dt = datetime.fromisoformat(start)
        self.end_dt = datetime.fromisoformat(end)
        self.summary = summary
        self.status = BOOKED
        self.external = ExternalState.PENDING
        self.external_id: str | None = None
        self.event_id = event_id  # the id asked of the provider (None: the provider picks)
        self.key = key
        self.request_id = request_id  # the request that created it
        self.hold_for = hold_for

    @property
    def state(self) -> tuple[AppointmentStatus, ExternalState]:
        return (self.status, self.external)

    @property
    def provider_event_id(self) -> str | None:
        """The event to delete for it: the confirmed one, else the id it was created under."""
        return self.external_id or self.event_id


class OutboxRow:
    """One outbox row. `payload` holds what the relay needs (see `sim.settle`)."""

    __slots__ = (
        "id",
        "appointment_id",
        "event_type",
        "payload",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "dead_lettered",
        "ambiguous_seen",
        "completed_at",
        "last_error",
    )

    def __init__(
        self,
        id: int,
        appointment_id: str,
        event_type: str,
        payload: dict[str, Any],
        next_attempt_at: float,
        claimed_until: float | None,
    ) -> None:
        self.id = id
        self.appointment_id = appointment_id
        self.event_type = event_type
        self.payload = payload
        self.attempts = 0
        self.next_attempt_at = next_attempt_at
        self.claimed_until = claimed_until
        self.dead_lettered = False
        self.ambiguous_seen = False
        self.completed_at: float | None = None
        self.last_error: str | None = None

    @property
    def is_open(self) -> bool:
        return self.completed_at is None and not self.dead_lettered


class KeyEntry:
    """An idempotency record and the appointment it guards."""

    __slots__ = ("record", "appointment_id")

    def __init__(self, record: KeyRecord, appointment_id: str | None) -> None:
        self.record = record
        self.appointment_id = appointment_id


class ServiceState:
    """Every table of the service's database (one tenant)."""

    def __init__(self) -> None:
        self.appointments: dict[str, Appointment] = {}
        self.keys: dict[str, KeyEntry] = {}
        self.open_rows: dict[int, OutboxRow] = {}  # not done, not dead-lettered
        self.dead_lettered = 0
        self._slots: dict[tuple[str, str], list[str]] = {}
        self._next_row_id = 1
        self._due: list[tuple[float, int]] = []  # (next_attempt_at, id) of unclaimed rows
        self._leased: list[tuple[float, int]] = []  # (claimed_until, id) of claimed rows
        self._rows_of: dict[str, list[OutboxRow]] = {}  # appointment id → its rows

    # -- appointments --------------------------------------------------------------------
    def slot_taken(self, resource_id: str, start: str) -> bool:
        """Does a booked row or a hold own this slot?"""
        return bool(self._slots.get((resource_id, start)))

    def insert(self, appointment: Appointment) -> None:
        """Store a new booked row; it owns its slot (unguarded legacy inserts may share one)."""
        self.appointments[appointment.id] = appointment
        self._slots.setdefault((appointment.resource_id, appointment.start), []).append(
            appointment.id
        )

    def advance(self, appointment: Appointment, event: LifecycleEvent, **changes: Any) -> None:
        """Move it through the lifecycle table; leaving BOOKED frees its slot."""
        status, external = transition(appointment.state, event)
        if appointment.status is BOOKED and status is not BOOKED:
            self._free(appointment)
        appointment.status = status
        appointment.external = external
        for name, value in changes.items():
            setattr(appointment, name, value)

    def move(self, appointment: Appointment, start: str, end: str) -> None:
        """A booked appointment takes another slot (a reschedule's switch)."""
        self._free(appointment)
        appointment.start, appointment.end = start, end
        appointment.start_dt = datetime.fromisoformat(start)
        appointment.end_dt = datetime.fromisoformat(end)
        self._slots.setdefault((appointment.resource_id, start), []).append(appointment.id)

    def drop_hold(self, hold_id: str) -> None:
        hold = self.appointments.pop(hold_id, None)
        if hold is not None:
            self._free(hold)

    def _free(self, appointment: Appointment) -> None:
        owners = self._slots.get((appointment.resource_id, appointment.start))
        if owners and appointment.id in owners:
            owners.remove(appointment.id)

    def listed(self) -> list[Appointment]:
        """The appointments `GET /v1/appointments` lists (holds excluded), ordered by id."""
        return sorted((a for a in self.appointments.values() if a.hold_for is None), key=_BY_ID)

    # -- outbox --------------------------------------------------------------------------
    def enqueue(
        self,
        appointment_id: str,
        event_type: str,
        payload: dict[str, Any],
        due_at: float,
        claimed_until: float | None = None,
    ) -> OutboxRow:
        row = OutboxRow(
            self._next_row_id, appointment_id, event_type, payload, due_at, claimed_until
        )
        self._next_row_id += 1
        self.open_rows[row.id] = row
        self._rows_of.setdefault(appointment_id, []).append(row)
        self._index(row)
        return row

    def _index(self, row: OutboxRow) -> None:
        if row.claimed_until is None:
            heapq.heappush(self._due, (row.next_attempt_at, row.id))
        else:
            heapq.heappush(self._leased, (row.claimed_until, row.id))

    def complete(self, row: OutboxRow, now: float) -> bool:
        """Mark a row done; False if it was already done or dead-lettered."""
        if not row.is_open:
            return False
        row.completed_at = now
        row.claimed_until = None
        del self.open_rows[row.id]
        return True

    def record_failure(
        self,
        row: OutboxRow,
        attempts: int,
        next_attempt_at: float | None,
        error: str,
        ambiguous: bool,
    ) -> None:
        """After a failed attempt: schedule the next one, or dead-letter (next_attempt_at None)."""
        if not row.is_open:
            return
        row.attempts = attempts
        row.last_error = error
        row.claimed_until = None
        row.ambiguous_seen = ambiguous
        if next_attempt_at is None:
            row.dead_lettered = True
            self.dead_lettered += 1
            del self.open_rows[row.id]
        else:
            row.next_attempt_at = next_attempt_at
            self._index(row)

    def release(self, row: OutboxRow, ambiguous: bool) -> None:
        """Give back a row the request path held while it tried inline (it stays due)."""
        if row.is_open:
            row.claimed_until = None
            if ambiguous:
                row.ambiguous_seen = True
            self._index(row)

    def supersede(
        self, appointment_id: str, event_types: Iterable[str], now: float
    ) -> list[OutboxRow]:
        """Close this appointment's open rows of these types (their work is moot)."""
        types = tuple(event_types)
        rows = [row for row in self._rows_of.get(appointment_id, ()) if row.is_open]
        self._rows_of[appointment_id] = rows
        moot = [row for row in rows if row.event_type in types]
        for row in moot:
            row.completed_at = now
            row.claimed_until = None
            row.last_error = "superseded"
            del self.open_rows[row.id]
        return moot

    def claim_due(self, now: float, lease_s: float, limit: int) -> list[OutboxRow]:
        """Lease up to `limit` due, unclaimed rows (oldest due first, then by id): those never
        claimed or whose lease ran out."""
        open_rows = self.open_rows
        leased = self._leased
        while leased and leased[0][0] <= now:  # leases that ran out: the rows are free again
            until, row_id = heapq.heappop(leased)
            row = open_rows.get(row_id)
            if row is not None and row.claimed_until == until:
                heapq.heappush(self._due, (row.next_attempt_at, row_id))
        due = self._due
        claimed: list[OutboxRow] = []
        while due and due[0][0] <= now and len(claimed) < limit:
            due_at, row_id = heapq.heappop(due)
            row = open_rows.get(row_id)
            if (
                row is None
                or row.next_attempt_at != due_at
                or (row.claimed_until is not None and row.claimed_until > now)
            ):
                continue  # done, rescheduled or claimed since: its current entry stands
            row.claimed_until = now + lease_s
            heapq.heappush(leased, (row.claimed_until, row_id))
            claimed.append(row)
        return claimed
