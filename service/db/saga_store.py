"""The `saga_steps` table: an append-only record of each reschedule saga's steps.

Owns the SQL for saga steps; the saga's logic lives in `service.booking.reschedule_saga`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from service.db.tables import saga_steps as t


async def record(
    conn: AsyncConnection,
    *,
    tenant_id: str,
    saga_id: str,
    appointment_id: str,
    step: str,
    state: str,
    now: float,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        t.insert().values(
            tenant_id=tenant_id,
            saga_id=saga_id,
            appointment_id=appointment_id,
            step=step,
            state=state,
            detail=json.dumps(detail, sort_keys=True) if detail is not None else None,
            at=now,
        )
    )


async def steps_of(
    conn: AsyncConnection, tenant_id: str, appointment_id: str
) -> Sequence[dict[str, Any]]:
    query = (
        select(t.c.saga_id, t.c.step, t.c.state, t.c.detail, t.c.at)
        .where(t.c.tenant_id == tenant_id, t.c.appointment_id == appointment_id)
        .order_by(t.c.id)
    )
    steps = []
    for row in (await conn.execute(query)).all():
        step = dict(row._mapping)
        step["detail"] = json.loads(step["detail"]) if step["detail"] else None
        steps.append(step)
    return steps


async def event_owners(conn: AsyncConnection, identities: Sequence[str]) -> dict[str, str]:
    """Of `identities` (one `IN` list), the saga ids (a reschedule's new event id), with their
    tenant."""
    query = select(t.c.saga_id, t.c.tenant_id).where(t.c.saga_id.in_(identities)).distinct()
    return {row.saga_id: row.tenant_id for row in (await conn.execute(query)).all()}
