"""Reads and writes of the `appointments` table (appointments and reschedule holds).

Owns the SQL for appointments; must not decide lifecycle (callers pass an `Appointment` already
advanced through the transition table). Updates are optimistic: `save` writes only if the row
still has the version the caller read, and bumps it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.booking.model import Appointment
from service.db.database import is_overlap_violation
from service.db.prepared import prepared
from service.db.tables import appointments as t
from service.ports.store import KIND_APPOINTMENT, KIND_HOLD, SlotTaken, StaleWrite
from service.resilience.lifecycle import AppointmentStatus, ExternalState

__all__ = ["KIND_APPOINTMENT", "KIND_HOLD", "SlotTaken", "StaleWrite"]


def _row_values(a: Appointment) -> dict[str, Any]:
    return {
        "id": a.id,
        "tenant_id": a.tenant_id,
        "resource_id": a.resource_id,
        "customer_id": a.customer_id,
        "start_time": a.start_time,
        "end_time": a.end_time,
        "service_type": a.service_type,
        "title": a.title,
        "location": a.location,
        "owner_name": a.owner_name,
        "owner_email": a.owner_email,
        "metadata_json": json.dumps(a.metadata) if a.metadata is not None else None,
        "status": a.status.value,
        "external_state": a.external_state.value,
        "external_id": a.external_id,
        "event_id": a.event_id,
        "version": a.version,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def _from_row(row: Any) -> Appointment:
    return Appointment(
        id=row.id,
        tenant_id=row.tenant_id,
        resource_id=row.resource_id,
        customer_id=row.customer_id,
        start_time=row.start_time,
        end_time=row.end_time,
        service_type=row.service_type,
        title=row.title,
        location=row.location,
        owner_name=row.owner_name,
        owner_email=row.owner_email,
        metadata=json.loads(row.metadata_json) if row.metadata_json is not None else None,
        status=AppointmentStatus(row.status),
        external_state=ExternalState(row.external_state),
        external_id=row.external_id,
        event_id=row.event_id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# Statements built once, values as parameters (`service.db.prepared`: SQLAlchemy's per-call
# statement building and execution cost more CPU than SQLite's own work).
_INSERT = prepared(t.insert())
_GET = prepared(
    select(t).where(
        t.c.id == bindparam("b_id"),
        t.c.tenant_id == bindparam("b_tenant_id"),
        t.c.kind == KIND_APPOINTMENT,
    )
)
_GET_FOR_UPDATE = prepared(_GET.with_for_update())
_LOCK_RESOURCE = select(
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("b_slot_key"), 0))
)  # PostgreSQL only, see `insert`


async def insert(
    conn: AsyncConnection,
    appointment: Appointment,
    *,
    guarded: bool = True,
    kind: str = KIND_APPOINTMENT,
    hold_for: str | None = None,
) -> None:
    """Insert a row; SlotTaken when the database's overlap rule refuses it. The caller's
    transaction is unusable after SlotTaken on PostgreSQL: let it roll back."""
    values = _row_values(appointment) | {
        "overlap_guarded": guarded,
        "kind": kind,
        "hold_for": hold_for,
    }
    if guarded and getattr(conn, "dialect", None) is not None and conn.dialect.name == "postgresql":
        # Two transactions inserting overlapping rows each wait for the other's row under the
        # exclusion constraint: a deadlock, found only after deadlock_timeout (1 s), with the
        # pool's connections held meanwhile — a burst of 25 creates for one slot took seconds.
        # Queue same-resource inserts on a transaction lock first; the loser then sees the
        # winner's committed row and gets its 409 at once. (SQLite's BEGIN IMMEDIATE already
        # serialises writers.) The key is the resource alone: the rule spans tenants.
        await conn.execute(_LOCK_RESOURCE, {"b_slot_key": appointment.resource_id})
    try:
        await conn.execute(_INSERT, values)
    except IntegrityError as exc:
        if is_overlap_violation(exc):
            raise SlotTaken(appointment.resource_id) from exc
        raise


async def get(
    conn: AsyncConnection, tenant_id: str, appointment_id: str, *, for_update: bool = False
) -> Appointment | None:
    query = _GET_FOR_UPDATE if for_update else _GET
    row = (await conn.execute(query, {"b_id": appointment_id, "b_tenant_id": tenant_id})).first()
    return _from_row(row) if row is not None else None


# The SET clause comes from the parameters at execution time.
_SAVE = prepared(
    update(t).where(t.c.id == bindparam("b_id"), t.c.version == bindparam("b_version"))
)


async def save(conn: AsyncConnection, before: Appointment, after: Appointment) -> Appointment:
    """Write `after` over the row read as `before`; returns it with its new version.

    Only the columns that differ are set: the version guard means the row still is `before`, and
    an unchanged slot or status then never wakes the overlap trigger (SQLite's fires on the
    columns named in SET, changed or not, and scans the resource's bookings)."""
    old = _row_values(before)
    values = {k: v for k, v in _row_values(after).items() if v != old[k]}
    for fixed in ("id", "tenant_id", "created_at"):
        values.pop(fixed, None)
    values["version"] = before.version + 1
    try:
        result = await conn.execute(
            _SAVE, values | {"b_id": before.id, "b_version": before.version}
        )
    except IntegrityError as exc:
        if is_overlap_violation(exc):
            raise SlotTaken(after.resource_id) from exc
        raise
    if result.rowcount != 1:
        raise StaleWrite(f"appointment {before.id} changed since version {before.version}")
    return after.evolve(version=before.version + 1)


async def overlaps(
    conn: AsyncConnection, resource_id: str, start: dt.datetime, end: dt.datetime
) -> bool:
    """Is any booked row of this resource, whatever its tenant, overlapping [start, end)? (The
    legacy code check.)"""
    query = select(func.count()).where(
        t.c.resource_id == resource_id,
        t.c.status == AppointmentStatus.BOOKED.value,
        t.c.start_time < end,
        t.c.end_time > start,
    )
    return bool((await conn.execute(query)).scalar_one())


async def list_page(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    resource_id: str | None,
    window_from: dt.datetime | None,
    window_to: dt.datetime | None,
    after: str | None,
    limit: int,
) -> Sequence[Appointment]:
    """Appointments of a tenant ordered by id (stable keyset paging), optionally of one resource
    and overlapping [window_from, window_to)."""
    conditions = [t.c.tenant_id == tenant_id, t.c.kind == KIND_APPOINTMENT]
    if resource_id is not None:
        conditions.append(t.c.resource_id == resource_id)
    if window_from is not None:
        conditions.append(t.c.end_time > window_from)
    if window_to is not None:
        conditions.append(t.c.start_time < window_to)
    if after is not None:
        conditions.append(t.c.id > after)
    query = select(t).where(and_(*conditions)).order_by(t.c.id).limit(limit)
    return [_from_row(row) for row in (await conn.execute(query)).all()]


async def all_appointments(conn: AsyncConnection) -> Sequence[Appointment]:
    """Every appointment of every tenant (the reconciler's side of the comparison)."""
    query = select(t).where(t.c.kind == KIND_APPOINTMENT)
    return [_from_row(row) for row in (await conn.execute(query)).all()]


async def event_owners(conn: AsyncConnection, identities: Sequence[str]) -> dict[str, str]:
    """Of `identities` (a few hundred at most: one `IN` list), those that are an appointment's
    id, the event id asked of the provider for it, or the provider's id recorded for it; each
    with the appointment's tenant."""
    query = select(t.c.id, t.c.event_id, t.c.external_id, t.c.tenant_id).where(
        t.c.kind == KIND_APPOINTMENT,
        or_(t.c.id.in_(identities), t.c.event_id.in_(identities), t.c.external_id.in_(identities)),
    )
    wanted = set(identities)
    owners: dict[str, str] = {}
    for row in (await conn.execute(query)).all():
        for identity in (row.id, row.event_id, row.external_id):
            if identity in wanted:
                owners.setdefault(identity, row.tenant_id)
    return owners


async def delete_hold(conn: AsyncConnection, hold_id: str) -> None:
    await conn.execute(t.delete().where(t.c.id == hold_id, t.c.kind == KIND_HOLD))
