"""The overlap rule lives in the database (migrations 0001 and 0002): SQLite triggers, PostgreSQL's exclusion
constraint. Exercised through the store on both, without the service around it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from service.booking.model import Appointment
from service.db import appointment_store
from service.db.appointment_store import SlotTaken
from service.db.database import Database
from service.db.migrate import alembic_config, upgrade_to_head
from service.db.sql_store import SqlTransaction
from service.resilience.lifecycle import AppointmentStatus, ExternalState

T0 = dt.datetime(2031, 5, 5, 9, 0, tzinfo=dt.UTC)


def _appointment(
    start_min: int, end_min: int, tenant: str = "t1", resource: str = "r1"
) -> Appointment:
    return Appointment(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        resource_id=resource,
        customer_id=str(uuid.uuid4()),
        start_time=T0 + dt.timedelta(minutes=start_min),
        end_time=T0 + dt.timedelta(minutes=end_min),
        service_type="pickup",
        title=None,
        location=None,
        owner_name=None,
        owner_email=None,
        metadata=None,
        status=AppointmentStatus.BOOKED,
        external_state=ExternalState.PENDING,
        external_id=None,
        event_id=None,
        version=1,
        created_at=0.0,
        updated_at=0.0,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{request.getfixturevalue('tmp_path')}/store.db"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url, pool_size=2)
    try:
        await upgrade_to_head(db)
        yield db
    finally:
        await db.dispose()


async def _insert(db: Database, appointment: Appointment, guarded: bool = True) -> None:
    async with db.write() as conn:
        await appointment_store.insert(conn, appointment, guarded=guarded)


async def test_overlaps_are_refused_adjacent_slots_are_not(database: Database) -> None:
    await _insert(database, _appointment(0, 30))
    with pytest.raises(SlotTaken):
        await _insert(database, _appointment(15, 45))
    with pytest.raises(SlotTaken):
        await _insert(database, _appointment(-60, 120))  # covers it
    await _insert(database, _appointment(30, 60))  # starts where the first ends
    with pytest.raises(SlotTaken):  # one resource is one calendar, whatever the tenant
        await _insert(database, _appointment(0, 30, tenant="t2"))
    await _insert(database, _appointment(0, 30, resource="r2"))  # another resource


async def test_only_booked_rows_hold_their_slot(database: Database) -> None:
    first = _appointment(0, 30)
    await _insert(database, first)
    async with database.write() as conn:
        await appointment_store.save(
            conn, first, dataclasses.replace(first, status=AppointmentStatus.CANCELLED)
        )
    second = _appointment(0, 30)
    await _insert(database, second)  # the cancelled one no longer holds the slot
    async with database.read() as conn:
        stored_first = await appointment_store.get(conn, "t1", first.id)
        stored_second = await appointment_store.get(conn, "t1", second.id)
    assert stored_first is not None and stored_first.status is AppointmentStatus.CANCELLED
    assert stored_second is not None and stored_second.status is AppointmentStatus.BOOKED
    with pytest.raises(SlotTaken):  # and the new booking holds it
        await _insert(database, _appointment(10, 20))


async def test_moving_onto_a_taken_slot_is_refused(database: Database) -> None:
    first, second = _appointment(0, 30), _appointment(60, 90)
    await _insert(database, first)
    await _insert(database, second)
    with pytest.raises(SlotTaken):
        async with database.write() as conn:
            await appointment_store.save(
                conn,
                second,
                dataclasses.replace(second, start_time=first.start_time, end_time=first.end_time),
            )


async def test_rows_written_without_the_guard_are_outside_the_rule(database: Database) -> None:
    """The legacy switch: the database lets overlapping unguarded rows in (v1's double booking)."""
    await _insert(database, _appointment(0, 30), guarded=False)
    await _insert(database, _appointment(0, 30), guarded=False)
    await _insert(database, _appointment(0, 30), guarded=True)
    async with database.read() as conn:
        assert await appointment_store.overlaps(conn, "r1", T0, T0 + dt.timedelta(minutes=5))


@pytest.fixture(params=["sqlite", "postgresql"])
async def unmigrated(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{request.getfixturevalue('tmp_path')}/store.db"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url, pool_size=2)
    try:
        yield db
    finally:
        await db.dispose()


async def _upgrade_to(db: Database, revision: str) -> None:
    def upgrade(sync_connection: Any) -> None:
        config = alembic_config()
        config.attributes["connection"] = sync_connection
        command.upgrade(config, revision)

    async with db.write() as conn:
        await conn.run_sync(upgrade)


async def test_0002_refuses_cross_tenant_overlaps_by_name_then_spans_tenants(
    unmigrated: Database,
) -> None:
    """A database from before 0002 may hold one slot booked by two tenants; the migration names
    the pair and what to do instead of failing on the constraint (or cancelling a booking)."""
    db = unmigrated
    await _upgrade_to(db, "0001")
    first, second = _appointment(0, 30, tenant="t1"), _appointment(10, 40, tenant="t2")
    for made in (first, second):
        await _insert(db, made)
    async with db.write() as conn:  # a row of the outbox as 0001 wrote it
        await conn.execute(
            text(
                "INSERT INTO outbox (tenant_id, appointment_id, event_type, payload, attempts, "
                "next_attempt_at, dead_lettered, ambiguous_seen, created_at) VALUES ('t2', :a, "
                "'reschedule_event', :p, 0, 0, false, false, 0)"
            ),
            {"a": second.id, "p": '{"saga_id": "s-9", "spec": {"event_id": "s-9"}}'},
        )
    with pytest.raises(Exception, match="Cancel one of each pair") as refused:
        await upgrade_to_head(db)
    assert first.id in str(refused.value) and second.id in str(refused.value)
    async with db.write() as conn:
        await conn.execute(text("UPDATE appointments SET status = 'cancelled' WHERE id = :i"),
                           {"i": second.id})  # fmt: skip
    await upgrade_to_head(db)
    with pytest.raises(SlotTaken):
        await _insert(db, _appointment(20, 50, tenant="t3"))
    async with db.read() as conn:
        assert await SqlTransaction(conn).event_owners(["s-9", first.id]) == {
            "s-9": "t2",  # backfilled from the payload
            first.id: "t1",
        }
