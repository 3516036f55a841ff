"""Idempotency keys inside a flow's write transaction: claim, answer a repeat, complete.

Owns the glue between `service.resilience.idempotency` (the decisions) and
`service.db.idempotency_store` (the rows). A key is claimed in the same transaction as the work
it guards, so the key and the appointment commit or vanish together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from service.booking.answers import Answer, BookingError
from service.db import idempotency_store
from service.db.idempotency_store import StoredKey
from service.resilience.idempotency import (
    Decision,
    IdempotencyPolicy,
    decide,
    fingerprint,
    new_record,
)


@dataclass(frozen=True)
class KeyClaim:
    decision: Decision
    stored: StoredKey | None


def request_fingerprint(operation: str, target: str | None, body: dict[str, Any]) -> str:
    """The fingerprint of one operation on one target with this body: the same key reused for
    another operation or another appointment is a mismatch, as it should be."""
    return fingerprint({"op": operation, "target": target, "body": body})


async def claim(
    conn: AsyncConnection,
    *,
    tenant_id: str,
    key: str,
    body_fingerprint: str,
    now: float,
    policy: IdempotencyPolicy,
    appointment_id: str | None,
) -> KeyClaim:
    """Decide what the key means now; on PROCEED store it in flight (KeyTaken if another request
    inserted it concurrently: retry the whole transaction)."""
    stored = await idempotency_store.load(conn, tenant_id, key, for_update=True)
    decision = decide(stored.record if stored else None, body_fingerprint, now, policy)
    if decision is Decision.PROCEED:
        record = new_record(key, body_fingerprint, now, policy)
        await idempotency_store.insert(
            conn, tenant_id, record, appointment_id, replace_expired=stored is not None
        )
    return KeyClaim(decision, stored)


def repeat_answer(claim_: KeyClaim) -> Answer:
    """The answer to REPLAY, MISMATCH or IN_FLIGHT (RECOVER is the flow's: it needs state)."""
    if claim_.decision is Decision.REPLAY and claim_.stored is not None:
        record = claim_.stored.record
        body = json.loads(record.response_body or "{}")
        return Answer(record.response_status or 200, body, replayed=True)
    if claim_.decision is Decision.MISMATCH:
        raise BookingError(
            422,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request; use a new key for a new request",
            field_name="Idempotency-Key",
        )
    raise BookingError(
        409,
        "request_in_flight",
        "a request with this Idempotency-Key is still being processed; retry shortly",
        headers={"Retry-After": "1"},
    )


async def complete(conn: AsyncConnection, tenant_id: str, key: str | None, answer: Answer) -> None:
    if key is not None:
        await idempotency_store.complete(
            conn, tenant_id, key, answer.status, json.dumps(answer.body, ensure_ascii=False)
        )
