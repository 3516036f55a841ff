"""The store port on SQL: `SqlStore` (SQLite or PostgreSQL through `service.db.database`).

Owns the adapter from `service.ports.store.Transaction` to the table modules
(`appointment_store`, `idempotency_store`, `outbox_store`, `saga_store`), which hold the SQL, and
the translation of a deadlock or serialization failure into `TransientConflict`. Must not decide
anything: every method is one table operation.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.booking.answers import Answer
from service.booking.model import Appointment
from service.db import appointment_store, idempotency_store, outbox_store, saga_store
from service.db.database import Database, is_transient_conflict
from service.ports.store import KIND_APPOINTMENT, OutboxRow, StoredKey, TransientConflict
from service.resilience.idempotency import KeyRecord

_IN_LIST = 500  # identities per `IN` list


class SqlTransaction:
    """One transaction on one connection (`service.ports.store.Transaction`)."""

    __slots__ = ("conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # -- appointments ------------------------------------------------------------------------
    async def get_appointment(
        self, tenant_id: str, appointment_id: str, *, for_update: bool = False
    ) -> Appointment | None:
        return await appointment_store.get(
            self.conn, tenant_id, appointment_id, for_update=for_update
        )

    async def insert_appointment(
        self,
        appointment: Appointment,
        *,
        guarded: bool = True,
        kind: str = KIND_APPOINTMENT,
        hold_for: str | None = None,
    ) -> None:
        await appointment_store.insert(
            self.conn, appointment, guarded=guarded, kind=kind, hold_for=hold_for
        )

    async def save_appointment(self, before: Appointment, after: Appointment) -> Appointment:
        return await appointment_store.save(self.conn, before, after)

    async def overlaps(self, resource_id: str, start: dt.datetime, end: dt.datetime) -> bool:
        return await appointment_store.overlaps(self.conn, resource_id, start, end)

    async def delete_hold(self, hold_id: str) -> None:
        await appointment_store.delete_hold(self.conn, hold_id)

    async def list_appointments(
        self,
        tenant_id: str,
        *,
        resource_id: str | None,
        window_from: dt.datetime | None,
        window_to: dt.datetime | None,
        after: str | None,
        limit: int,
    ) -> Sequence[Appointment]:
        return await appointment_store.list_page(
            self.conn,
            tenant_id,
            resource_id=resource_id,
            window_from=window_from,
            window_to=window_to,
            after=after,
            limit=limit,
        )

    async def all_appointments(self) -> Sequence[Appointment]:
        return await appointment_store.all_appointments(self.conn)

    async def event_owners(self, identities: Iterable[str]) -> dict[str, str]:
        # Bounded IN lists: SQLite and asyncpg cap the parameters of one statement.
        wanted = sorted(set(identities))
        owners: dict[str, str] = {}
        for start in range(0, len(wanted), _IN_LIST):
            chunk = wanted[start : start + _IN_LIST]
            for table in (appointment_store, saga_store, outbox_store):
                for identity, tenant in (await table.event_owners(self.conn, chunk)).items():
                    owners.setdefault(identity, tenant)
        return owners

    # -- idempotency keys --------------------------------------------------------------------
    async def load_key(
        self, tenant_id: str, key: str, *, for_update: bool = False
    ) -> StoredKey | None:
        return await idempotency_store.load(self.conn, tenant_id, key, for_update=for_update)

    async def insert_key(
        self,
        tenant_id: str,
        record: KeyRecord,
        appointment_id: str | None,
        *,
        replace_expired: bool = False,
    ) -> None:
        await idempotency_store.insert(
            self.conn, tenant_id, record, appointment_id, replace_expired=replace_expired
        )

    async def complete_key(self, tenant_id: str, key: str, answer: Answer) -> None:
        body = json.dumps(answer.body, ensure_ascii=False)
        await idempotency_store.complete(self.conn, tenant_id, key, answer.status, body)

    # -- outbox ------------------------------------------------------------------------------
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
    ) -> int:
        return await outbox_store.enqueue(
            self.conn,
            tenant_id=tenant_id,
            appointment_id=appointment_id,
            event_type=event_type,
            payload=payload,
            due_at=due_at,
            now=now,
            claimed_until=claimed_until,
        )

    async def claim_due(self, now: float, lease_s: float, limit: int) -> Sequence[OutboxRow]:
        return await outbox_store.claim_due(self.conn, now, lease_s, limit)

    async def get_row(self, row_id: int, *, for_update: bool = False) -> OutboxRow | None:
        return await outbox_store.get(self.conn, row_id, for_update=for_update)

    async def complete_row(self, row_id: int, now: float) -> bool:
        return await outbox_store.complete(self.conn, row_id, now)

    async def record_failure(
        self,
        row_id: int,
        *,
        attempts: int,
        next_attempt_at: float | None,
        error: str,
        ambiguous: bool,
    ) -> None:
        await outbox_store.record_failure(
            self.conn,
            row_id,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            error=error,
            ambiguous=ambiguous,
        )

    async def release_row(self, row_id: int, *, ambiguous: bool) -> None:
        await outbox_store.release(self.conn, row_id, ambiguous=ambiguous)

    async def supersede(
        self, appointment_id: str, event_types: Iterable[str], now: float
    ) -> list[OutboxRow]:
        return await outbox_store.supersede(self.conn, appointment_id, event_types, now)

    async def open_rows(self, appointment_id: str) -> Sequence[OutboxRow]:
        return await outbox_store.open_rows(self.conn, appointment_id)

    async def all_open_rows(self) -> Sequence[OutboxRow]:
        return await outbox_store.all_open(self.conn)

    async def outbox_counts(self, tenant_id: str | None = None) -> tuple[int, int]:
        return await outbox_store.counts(self.conn, tenant_id)

    async def dead_letters(self, tenant_id: str | None = None) -> Sequence[OutboxRow]:
        return await outbox_store.dead_letters(self.conn, tenant_id)

    # -- sagas -------------------------------------------------------------------------------
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
    ) -> None:
        await saga_store.record(
            self.conn,
            tenant_id=tenant_id,
            saga_id=saga_id,
            appointment_id=appointment_id,
            step=step,
            state=state,
            now=now,
            detail=detail,
        )

    async def saga_steps(self, tenant_id: str, appointment_id: str) -> Sequence[dict[str, Any]]:
        return await saga_store.steps_of(self.conn, tenant_id, appointment_id)


class SqlStore:
    """`service.ports.store.Store` over a `Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[SqlTransaction]:
        try:
            async with self.db.write() as conn:
                yield SqlTransaction(conn)
        except DBAPIError as exc:
            if is_transient_conflict(exc):
                raise TransientConflict(str(exc.orig)) from exc
            raise

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[SqlTransaction]:
        async with self.db.read() as conn:
            yield SqlTransaction(conn)
