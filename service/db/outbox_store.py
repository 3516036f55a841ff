"""Reads and writes of the `outbox` table: enqueue, claim, and record an attempt's fate.

Owns the SQL for outbox rows, including the claim: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so
several relays (several service replicas) each take different rows; on SQLite the claim runs in a
`BEGIN IMMEDIATE` write transaction. Either way the claim is a lease (`claimed_until`), so a relay
that dies holding rows gives them back when the lease runs out. Must not decide schedules or dead
letters (that is `service.resilience.outbox`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.prepared import prepared
from service.db.tables import outbox as t
from service.ports.store import CREATE_EVENT, DELETE_EVENT, RESCHEDULE_EVENT, OutboxRow

__all__ = ["CREATE_EVENT", "DELETE_EVENT", "RESCHEDULE_EVENT", "OutboxRow"]


def _from_row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        tenant_id=row.tenant_id,
        appointment_id=row.appointment_id,
        event_type=row.event_type,
        payload=json.loads(row.payload),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        claimed_until=row.claimed_until,
        last_error=row.last_error,
        dead_lettered=row.dead_lettered,
        ambiguous_seen=row.ambiguous_seen,
        completed_at=row.completed_at,
    )


_OPEN = and_(t.c.completed_at.is_(None), t.c.dead_lettered.is_(False))


# Built once, values as parameters (see `service.db.prepared`).
_ENQUEUE = prepared(t.insert().returning(t.c.id))
# SET from the parameters; only while the row is open.
_UPDATE_OPEN = prepared(update(t).where(t.c.id == bindparam("b_id"), _OPEN))


async def enqueue(
    conn: AsyncConnection,
    *,
    tenant_id: str,
    appointment_id: str,
    event_type: str,
    payload: dict[str, Any],
    due_at: float,
    now: float,
    claimed_until: float | None = None,
) -> int:
    result = await conn.execute(
        _ENQUEUE,
        {
            "tenant_id": tenant_id,
            "appointment_id": appointment_id,
            "event_type": event_type,
            "payload": json.dumps(payload, sort_keys=True),
            "attempts": 0,
            "next_attempt_at": due_at,
            "claimed_until": claimed_until,
            "dead_lettered": False,
            "ambiguous_seen": False,
            "created_at": now,
            "event_id": _event_id(payload),
        },
    )
    return int(result.scalar_one())


def _event_id(payload: dict[str, Any]) -> str | None:
    """The provider event a row's call names: a create's or a delete's `event_id`, a
    reschedule's new event (`spec.event_id`); None when the provider picks the id."""
    event_id = payload.get("event_id") or payload.get("spec", {}).get("event_id")
    return str(event_id) if event_id is not None else None


async def event_owners(conn: AsyncConnection, identities: Sequence[str]) -> dict[str, str]:
    """Of `identities` (one `IN` list), the event ids some row's call named, with its tenant."""
    query = select(t.c.event_id, t.c.tenant_id).where(t.c.event_id.in_(identities)).distinct()
    return {row.event_id: row.tenant_id for row in (await conn.execute(query)).all()}


async def claim_due(
    conn: AsyncConnection, now: float, lease_s: float, limit: int
) -> Sequence[OutboxRow]:
    """Lease up to `limit` due rows to the caller until `now + lease_s`."""
    query = (
        select(t)
        .where(
            _OPEN,
            t.c.next_attempt_at <= now,
            or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now),
        )
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # SQLite's dialect omits it; BEGIN IMMEDIATE serializes
    )
    rows = [_from_row(row) for row in (await conn.execute(query)).all()]
    if rows:
        await conn.execute(
            update(t).where(t.c.id.in_([r.id for r in rows])).values(claimed_until=now + lease_s)
        )
    return rows


async def get(conn: AsyncConnection, row_id: int, *, for_update: bool = False) -> OutboxRow | None:
    query = select(t).where(t.c.id == row_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _from_row(row) if row is not None else None


async def complete(conn: AsyncConnection, row_id: int, now: float) -> bool:
    """Mark a row done; False if it was already done or dead-lettered."""
    result = await conn.execute(
        _UPDATE_OPEN, {"completed_at": now, "claimed_until": None, "b_id": row_id}
    )
    return result.rowcount == 1


async def record_failure(
    conn: AsyncConnection,
    row_id: int,
    *,
    attempts: int,
    next_attempt_at: float | None,
    error: str,
    ambiguous: bool,
) -> None:
    """After a failed relay attempt: schedule the next one, or dead-letter (next_attempt_at None)."""
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": error[:2000],
        "claimed_until": None,
        "ambiguous_seen": ambiguous,
    }
    if next_attempt_at is None:
        values["dead_lettered"] = True
    else:
        values["next_attempt_at"] = next_attempt_at
    await conn.execute(_UPDATE_OPEN, values | {"b_id": row_id})


async def release(conn: AsyncConnection, row_id: int, *, ambiguous: bool) -> None:
    """Give back a row the request path held while it tried inline (it stays due)."""
    values: dict[str, Any] = {"claimed_until": None}
    if ambiguous:
        values["ambiguous_seen"] = True
    await conn.execute(_UPDATE_OPEN, values | {"b_id": row_id})


async def supersede(
    conn: AsyncConnection, appointment_id: str, event_types: Iterable[str], now: float
) -> list[OutboxRow]:
    """Close the open rows of these types for an appointment (their work is moot); returns them
    as they were, so the caller can tell whether any may have reached the provider."""
    types = list(event_types)
    query = select(t).where(t.c.appointment_id == appointment_id, t.c.event_type.in_(types), _OPEN)
    rows = [_from_row(row) for row in (await conn.execute(query)).all()]
    if rows:
        await conn.execute(
            update(t)
            .where(t.c.id.in_([r.id for r in rows]))
            .values(completed_at=now, claimed_until=None, last_error="superseded")
        )
    return rows


async def open_rows(conn: AsyncConnection, appointment_id: str) -> Sequence[OutboxRow]:
    query = select(t).where(t.c.appointment_id == appointment_id, _OPEN).order_by(t.c.id)
    return [_from_row(row) for row in (await conn.execute(query)).all()]


async def all_open(conn: AsyncConnection) -> Sequence[OutboxRow]:
    query = select(t).where(_OPEN).order_by(t.c.id)
    return [_from_row(row) for row in (await conn.execute(query)).all()]


async def counts(conn: AsyncConnection, tenant_id: str | None = None) -> tuple[int, int]:
    """(open rows, dead-lettered rows), of one tenant or of all."""
    open_query = select(func.count()).where(_OPEN)
    dead_query = select(func.count()).where(t.c.dead_lettered.is_(True))
    if tenant_id is not None:
        open_query = open_query.where(t.c.tenant_id == tenant_id)
        dead_query = dead_query.where(t.c.tenant_id == tenant_id)
    open_count = (await conn.execute(open_query)).scalar_one()
    dead = (await conn.execute(dead_query)).scalar_one()
    return int(open_count), int(dead)


async def dead_letters(conn: AsyncConnection, tenant_id: str | None = None) -> Sequence[OutboxRow]:
    query = select(t).where(t.c.dead_lettered.is_(True))
    if tenant_id is not None:
        query = query.where(t.c.tenant_id == tenant_id)
    return [_from_row(row) for row in (await conn.execute(query.order_by(t.c.id))).all()]
