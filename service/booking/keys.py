"""Idempotency keys inside a flow's write transaction: resolve, claim, answer a repeat, complete.

Owns the glue between `service.resilience.idempotency` (the decisions) and the store port's key
rows. A key is claimed in the same transaction as the work it guards, so the key and the
appointment commit or vanish together. `resolve_key` is the API edge's rule for where a key comes
from (header or body) and when one is required; the twin's request front calls it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.booking.answers import Answer, BookingError
from service.ports.store import StoredKey, Transaction
from service.resilience.idempotency import (
    Decision,
    IdempotencyPolicy,
    decide,
    fingerprint,
    new_record,
    validate_key,
)
from service.resilience.records import record_maker
from service.settings import Settings


@dataclass(frozen=True)
class KeyClaim:
    decision: Decision
    stored: StoredKey | None


_claim = record_maker(KeyClaim)  # one per keyed request, in both drivers


def request_fingerprint(operation: str, target: str | None, body: dict[str, Any]) -> str:
    """The fingerprint of one operation on one target with this body: the same key reused for
    another operation or another appointment is a mismatch, as it should be."""
    return fingerprint({"op": operation, "target": target, "body": body})


def resolve_key(settings: Settings, header_key: str | None, body_key: str | None) -> str | None:
    """The request's key from the header or the body; 422 naming it when malformed, when the two
    disagree, or when it is missing and keys are required."""
    if header_key is not None and body_key is not None and header_key != body_key:
        raise BookingError(
            422,
            "invalid_idempotency_key",
            "the Idempotency-Key header and the body's idempotency_key differ; send one",
            field_name="Idempotency-Key",
        )
    key = header_key if header_key is not None else body_key
    if key is None:
        if settings.require_idempotency_key and settings.protections.idempotency_store:
            raise BookingError(
                422,
                "missing_idempotency_key",
                "send an Idempotency-Key header (any unique string up to 255 printable ASCII "
                "characters, e.g. a UUID) so a retry cannot book twice",
                field_name="Idempotency-Key",
            )
        return None
    problem = validate_key(key)
    if problem is not None:
        raise BookingError(422, "invalid_idempotency_key", problem, field_name="Idempotency-Key")
    return key


async def claim(
    tx: Transaction,
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
    stored = await tx.load_key(tenant_id, key, for_update=True)
    decision = decide(stored.record if stored else None, body_fingerprint, now, policy)
    if decision is Decision.PROCEED:
        record = new_record(key, body_fingerprint, now, policy)
        await tx.insert_key(tenant_id, record, appointment_id, replace_expired=stored is not None)
    return _claim(decision, stored)


def repeat_answer(claim_: KeyClaim) -> Answer:
    """The answer to REPLAY, MISMATCH or IN_FLIGHT (RECOVER is the flow's: it needs state)."""
    if claim_.decision is Decision.REPLAY and claim_.stored is not None:
        response = claim_.stored.response
        if response is not None:
            return response.replay()
        record = claim_.stored.record
        return Answer(record.response_status or 200, {}, True)
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


async def complete(tx: Transaction, tenant_id: str, key: str | None, answer: Answer) -> None:
    if key is not None:
        await tx.complete_key(tenant_id, key, answer)
