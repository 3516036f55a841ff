"""SQLite's driver fast path (`service.db.prepared`) reads and writes exactly what SQLAlchemy's
own path does, raises the same errors, and is really taken; WAL checkpoints run off the loop."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from service.booking.model import Appointment
from service.db import appointment_store, idempotency_store
from service.db.database import Database, is_unique_violation
from service.db.idempotency_store import KeyTaken
from service.db.migrate import upgrade_to_head
from service.db.prepared import SqliteStatements, is_prepared, prepared
from service.db.sqlite_on_loop import LoopConnection
from service.db.tables import appointments, outbox
from service.resilience.idempotency import KeyRecord, KeyState
from service.resilience.lifecycle import AppointmentStatus, ExternalState

T0 = dt.datetime(2031, 5, 5, 9, 0, tzinfo=dt.UTC)


def _appointment(**overrides: Any) -> Appointment:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant_id": "t1",
        "resource_id": "r1",
        "customer_id": str(uuid.uuid4()),
        "start_time": T0,
        "end_time": T0 + dt.timedelta(minutes=30),
        "service_type": "pickup",
        "title": "a title with ünïcode",
        "location": None,
        "owner_name": "Ada",
        "owner_email": "ada@example.test",
        "metadata": {"nested": [1, 2.5, None, True]},
        "status": AppointmentStatus.BOOKED,
        "external_state": ExternalState.PENDING,
        "external_id": None,
        "event_id": "ev-1",
        "version": 1,
        "created_at": 1234.5,
        "updated_at": 1234.75,
    }
    values.update(overrides)
    return Appointment(**values)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/prepared.db", pool_size=2)
    try:
        await upgrade_to_head(database)
        yield database
    finally:
        await database.dispose()


class _NoSqlAlchemy:
    """A connection whose SQLAlchemy path fails: whatever still works went the driver's way."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the SQLAlchemy path was taken ({name})")


async def test_a_row_reads_back_the_same_through_both_paths(db: Database) -> None:
    written = _appointment()
    async with db.write() as conn:
        await appointment_store.insert(conn, written)
    async with db.read() as conn:
        fast = await appointment_store.get(conn, "t1", written.id)
        # The same query, unmarked: SQLAlchemy's own execution and result processing.
        plain = select(appointments).where(
            appointments.c.id == written.id, appointments.c.kind == "appointment"
        )
        row = (await conn.execute(plain)).first()
    assert fast == written
    assert row is not None
    assert row.start_time == fast.start_time and row.start_time.tzinfo is not None
    assert row.overlap_guarded is True
    assert row.created_at == fast.created_at


async def test_the_hot_statements_never_touch_sqlalchemy(db: Database) -> None:
    appointment = _appointment()
    record = KeyRecord("k-1", "f" * 64, KeyState.IN_FLIGHT, 1.0, 2.0)
    async with db.write() as real:
        assert isinstance(real, LoopConnection)
        conn: Any = LoopConnection(_NoSqlAlchemy(), real._statements, real._raw)  # noqa: SLF001
        await appointment_store.insert(conn, appointment)
        await idempotency_store.insert(conn, "t1", record, appointment.id)
        stored = await idempotency_store.load(conn, "t1", "k-1", for_update=True)
        current = await appointment_store.get(conn, "t1", appointment.id, for_update=True)
        assert current is not None
        confirmed = dataclasses.replace(
            current, external_state=ExternalState.CONFIRMED, external_id="ev-1"
        )
        saved = await appointment_store.save(conn, current, confirmed)
        await idempotency_store.complete(conn, "t1", "k-1", 201, '{"ok": true}')
    assert (
        stored is not None and stored.record == record and stored.appointment_id == appointment.id
    )
    assert saved.version == 2
    async with db.read() as conn:
        again = await appointment_store.get(conn, "t1", appointment.id)
        key = await idempotency_store.load(conn, "t1", "k-1")
    assert again == saved
    assert key is not None and key.record.state is KeyState.COMPLETED
    assert key.record.response_status == 201


async def test_driver_errors_come_back_as_sqlalchemy_errors(db: Database) -> None:
    record = KeyRecord("dup", "f" * 64, KeyState.IN_FLIGHT, 1.0, 2.0)
    async with db.write() as conn:
        await idempotency_store.insert(conn, "t1", record, None)
    with pytest.raises(KeyTaken):  # the store recognised a unique violation
        async with db.write() as conn:
            await idempotency_store.insert(conn, "t1", record, None)
    with pytest.raises(appointment_store.SlotTaken):  # the overlap trigger's ABORT
        async with db.write() as conn:
            await appointment_store.insert(conn, _appointment())
            await appointment_store.insert(conn, _appointment())
    # A failed transaction rolled back whole: neither appointment is there.
    async with db.read() as conn:
        assert (
            await appointment_store.list_page(
                conn, "t1", resource_id="r1", window_from=None, window_to=None, after=None, limit=10
            )
            == []
        )


async def test_the_error_hides_the_row_values(db: Database) -> None:
    statements = SqliteStatements(db._sqlite.dialect)  # type: ignore[union-attr]  # noqa: SLF001
    insert = prepared(outbox.insert())
    values = {"id": 1, "tenant_id": "t1", "appointment_id": "secret-owner@example.test"}
    plan = statements.plan(insert, values)
    assert plan is not None
    async with db.write() as conn:
        raw = conn._raw  # type: ignore[attr-defined]  # noqa: SLF001
        with pytest.raises(IntegrityError) as caught:  # NOT NULL columns missing
            statements.run(raw, plan, values)
    assert not is_unique_violation(caught.value)
    assert "secret-owner" not in str(caught.value)


def test_shapes_the_fast_path_does_not_know_go_the_ordinary_way(db: Database) -> None:
    statements = SqliteStatements(db._sqlite.dialect)  # type: ignore[union-attr]  # noqa: SLF001
    expanding = prepared(select(outbox).where(outbox.c.id.in_(bindparam("ids", expanding=True))))
    assert statements.plan(expanding, {"ids": [1, 2]}) is None
    unmarked = select(outbox).where(outbox.c.id == bindparam("b_id"))
    assert not is_prepared(unmarked)
    assert is_prepared(expanding)


async def test_checkpoints_run_on_their_own_thread_and_stop_with_the_database(
    tmp_path: Path,
) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/wal.db", pool_size=2)
    await upgrade_to_head(database)
    for minute in range(0, 600, 30):
        async with database.write() as conn:
            start = T0 + dt.timedelta(minutes=minute)
            await appointment_store.insert(
                conn, _appointment(start_time=start, end_time=start + dt.timedelta(minutes=30))
            )
    checkpointer = database._checkpointer  # noqa: SLF001
    assert checkpointer is not None
    deadline = time.monotonic() + 5
    while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.checkpoints > 0
    await database.dispose()
    assert not checkpointer._thread.is_alive()  # noqa: SLF001
