"""The store port: what a flow may read and write inside one transaction, and what it gets back.

Owns the `Store` and `Transaction` protocols, the records they return (`OutboxRow`, `StoredKey`),
the outbox event types and the errors a transaction raises (`SlotTaken`, `KeyTaken`,
`StaleWrite`, `TransientConflict`). Two implementations: `service.db.sql_store` (SQLite,
PostgreSQL) and the twin's in-memory store; one contract suite (`tests/stores/`) holds both to
the same behaviour. Must not hold SQL, SimPy or asyncio.

Semantics every implementation keeps:
- A `write()` transaction commits when its block ends normally and rolls back whole on any
  exception (nothing of it is visible then); `read()` sees committed data only.
- The overlap rule: a booked, guarded row (appointment or hold) of a resource refuses another
  booked, guarded row of that resource whose [start, end) overlaps it (`SlotTaken`), on insert
  and on save — whatever the tenants: a resource is one provider calendar (service/README.md).
- Idempotency keys are unique per tenant (`KeyTaken` when a concurrent transaction inserted it).
- `save(before, after)` writes only if the row is still at `before.version` (`StaleWrite`).
- `claim_due` leases due rows (oldest due first, then by id) that no live lease holds, as
  `FOR UPDATE SKIP LOCKED` does on PostgreSQL: rows another transaction has locked are skipped.
- Records returned are snapshots: changing the store later does not change them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from service.resilience.idempotency import KeyRecord

if TYPE_CHECKING:
    from service.booking.answers import Answer
    from service.booking.model import Appointment

CREATE_EVENT = "create_event"  # payload: calendar_id, start, end, summary, event_id, key
DELETE_EVENT = "delete_event"  # payload: event_id, key, reason, saga_id
RESCHEDULE_EVENT = "reschedule_event"  # payload: saga_id, hold_id, slots + a create payload

KIND_APPOINTMENT = "appointment"
KIND_HOLD = "hold"


class SlotTaken(Exception):
    """The slot overlaps a booked appointment (or hold) of the same resource."""


class StaleWrite(Exception):
    """The row changed since it was read (its version moved on)."""


class KeyTaken(Exception):
    """Another request inserted this key first (its transaction committed before ours)."""


class TransientConflict(Exception):
    """The database aborted the transaction to break a deadlock or a serialization conflict;
    the whole transaction is safe to run again."""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    tenant_id: str
    appointment_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: float
    claimed_until: float | None
    last_error: str | None
    dead_lettered: bool
    ambiguous_seen: bool
    completed_at: float | None

    @property
    def is_open(self) -> bool:
        return self.completed_at is None and not self.dead_lettered


@dataclass(frozen=True)
class StoredKey:
    """A key's record, the appointment it guards, and (once completed) the answer to replay."""

    record: KeyRecord
    appointment_id: str | None
    response: Answer | None = None


class Transaction(Protocol):
    """One transaction's operations. `for_update` locks the row until the transaction ends
    (PostgreSQL); stores that serialise whole transactions may ignore it."""

    # -- appointments (and reschedule holds) ----------------------------------------------
    async def get_appointment(
        self, tenant_id: str, appointment_id: str, *, for_update: bool = False
    ) -> Appointment | None: ...

    async def insert_appointment(
        self,
        appointment: Appointment,
        *,
        guarded: bool = True,
        kind: str = KIND_APPOINTMENT,
        hold_for: str | None = None,
    ) -> None: ...

    async def save_appointment(self, before: Appointment, after: Appointment) -> Appointment: ...

    async def overlaps(self, resource_id: str, start: dt.datetime, end: dt.datetime) -> bool:
        """Any booked row of this resource, of any tenant, overlapping [start, end)?"""
        ...

    async def delete_hold(self, hold_id: str) -> None: ...

    async def list_appointments(
        self,
        tenant_id: str,
        *,
        resource_id: str | None,
        window_from: dt.datetime | None,
        window_to: dt.datetime | None,
        after: str | None,
        limit: int,
    ) -> Sequence[Appointment]: ...

    async def all_appointments(self) -> Sequence[Appointment]: ...

    async def event_owners(self, identities: Iterable[str]) -> dict[str, str]:
        """Of `identities` (provider event ids and keys), those the service issued, each with
        the tenant it issued it for: an appointment's id, the event id asked of the provider for
        it or the provider's id recorded for it, a saga's id, an outbox row's event id. What the
        reconciler may treat as its own; anything else is another client's."""
        ...

    # -- idempotency keys ---------------------------------------------------------------
    async def load_key(
        self, tenant_id: str, key: str, *, for_update: bool = False
    ) -> StoredKey | None: ...

    async def insert_key(
        self,
        tenant_id: str,
        record: KeyRecord,
        appointment_id: str | None,
        *,
        replace_expired: bool = False,
    ) -> None: ...

    async def complete_key(self, tenant_id: str, key: str, answer: Answer) -> None: ...

    # -- outbox -------------------------------------------------------------------------
    async def enqueue(
        self,
        *,
        tenant_id: str,
        appointment_id: str,
        event_type: str,
        payload: dict[str, Any],
        due_at: float,
        now: float,
        claimed_until: float | None = None,
    ) -> int: ...

    async def claim_due(self, now: float, lease_s: float, limit: int) -> Sequence[OutboxRow]: ...

    async def get_row(self, row_id: int, *, for_update: bool = False) -> OutboxRow | None: ...

    async def complete_row(self, row_id: int, now: float) -> bool: ...

    async def record_failure(
        self,
        row_id: int,
        *,
        attempts: int,
        next_attempt_at: float | None,
        error: str,
        ambiguous: bool,
    ) -> None: ...

    async def release_row(self, row_id: int, *, ambiguous: bool) -> None: ...

    async def supersede(
        self, appointment_id: str, event_types: Iterable[str], now: float
    ) -> list[OutboxRow]: ...

    async def open_rows(self, appointment_id: str) -> Sequence[OutboxRow]: ...

    async def all_open_rows(self) -> Sequence[OutboxRow]: ...

    async def outbox_counts(self, tenant_id: str | None = None) -> tuple[int, int]: ...

    async def dead_letters(self, tenant_id: str | None = None) -> Sequence[OutboxRow]: ...

    # -- reschedule sagas ---------------------------------------------------------------
    async def record_saga_step(
        self,
        *,
        tenant_id: str,
        saga_id: str,
        appointment_id: str,
        step: str,
        state: str,
        now: float,
        detail: dict[str, Any] | None = None,
    ) -> None: ...

    async def saga_steps(self, tenant_id: str, appointment_id: str) -> Sequence[dict[str, Any]]: ...


class Store(Protocol):
    def write(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction: commits when the block ends, rolls back on any exception."""
        ...

    def read(self) -> AbstractAsyncContextManager[Transaction]:
        """A read-only transaction over committed data."""
        ...
