"""Reads and writes of the `idempotency_keys` table, in the caller's transaction.

Owns the SQL for key records and their mapping to `service.resilience.idempotency.KeyRecord`;
must not decide what a repeated key means (that is `idempotency.decide`). Keys are per tenant.
"""

from __future__ import annotations

import json

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from service.booking.answers import Answer
from service.db.database import is_unique_violation
from service.db.prepared import prepared
from service.db.tables import idempotency_keys as t
from service.ports.store import KeyTaken, StoredKey
from service.resilience.idempotency import KeyRecord, KeyState

__all__ = ["KeyTaken", "StoredKey"]


# Built once, values as parameters (see `service.db.prepared`).
_LOAD = prepared(
    select(t).where(t.c.tenant_id == bindparam("b_tenant_id"), t.c.key == bindparam("b_key"))
)
_LOAD_FOR_UPDATE = prepared(_LOAD.with_for_update())
_INSERT = prepared(t.insert())
_COMPLETE = prepared(  # SET state, response_status, response_body from the parameters
    update(t).where(
        t.c.tenant_id == bindparam("b_tenant_id"),
        t.c.key == bindparam("b_key"),
        t.c.state == KeyState.IN_FLIGHT.value,
    )
)


async def load(
    conn: AsyncConnection, tenant_id: str, key: str, *, for_update: bool = False
) -> StoredKey | None:
    query = _LOAD_FOR_UPDATE if for_update else _LOAD
    row = (await conn.execute(query, {"b_tenant_id": tenant_id, "b_key": key})).first()
    if row is None:
        return None
    record = KeyRecord(
        key=row.key,
        fingerprint=row.request_hash,
        state=KeyState(row.state),
        created_at=row.created_at,
        expires_at=row.expires_at,
        response_status=row.response_status,
        response_body=row.response_body,
    )
    response = None
    if record.state is KeyState.COMPLETED and row.response_body is not None:
        response = Answer(row.response_status or 200, json.loads(row.response_body))
    return StoredKey(record, row.appointment_id, response)


async def insert(
    conn: AsyncConnection,
    tenant_id: str,
    record: KeyRecord,
    appointment_id: str | None,
    *,
    replace_expired: bool = False,
) -> None:
    """Store a fresh in-flight record (over an expired one when `replace_expired`)."""
    values = {
        "request_hash": record.fingerprint,
        "state": record.state.value,
        "response_status": None,
        "response_body": None,
        "appointment_id": appointment_id,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
    }
    if replace_expired:
        await conn.execute(
            update(t).where(t.c.tenant_id == tenant_id, t.c.key == record.key).values(**values)
        )
        return
    try:
        await conn.execute(_INSERT, {"tenant_id": tenant_id, "key": record.key, **values})
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise KeyTaken(record.key) from exc
        raise


async def complete(conn: AsyncConnection, tenant_id: str, key: str, status: int, body: str) -> None:
    """Mark the key completed with the response to replay (only while it is still in flight)."""
    await conn.execute(
        _COMPLETE,
        {
            "state": KeyState.COMPLETED.value,
            "response_status": status,
            "response_body": body,
            "b_tenant_id": tenant_id,
            "b_key": key,
        },
    )
