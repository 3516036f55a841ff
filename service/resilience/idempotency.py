"""Idempotency rules: request fingerprints, key states and what to do with a repeated key.

Pure: `now` comes from the caller; storage is the caller's (the service keeps records in the same
database transaction as the appointment).

Decisions (DESIGN §3): no record or an expired one → PROCEED; a different body under the same key →
MISMATCH (422); the first request still running → IN_FLIGHT (409); completed → REPLAY the stored
response; in flight for longer than the lease (its process died mid-request) → RECOVER: answer
from the appointment's current state and complete the key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .records import record_maker

DEFAULT_KEY_TTL_S = 24 * 3600.0
_PRINTABLE_ASCII = re.compile("[\x21-\x7e]+")
# Built once: `json.dumps(**options)` builds a JSONEncoder per call and `encode` a C encoder per
# call, each as costly as encoding a booking's body. Without circular-reference markers (a body
# parsed from JSON has no cycles; anything else goes the full encoder's way and fails there).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = (
    _make_c_encoder(
        None, _CANONICAL.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if _make_c_encoder is not None
    else None
)
MAX_KEY_LENGTH = 255


class KeyState(Enum):
    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"


class Decision(Enum):
    PROCEED = "proceed"
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_FLIGHT = "in_flight"
    RECOVER = "recover"


@dataclass(frozen=True)
class IdempotencyPolicy:
    ttl_s: float = DEFAULT_KEY_TTL_S
    in_flight_lease_s: float = 30.0


@dataclass(frozen=True)
class KeyRecord:
    key: str
    fingerprint: str
    state: KeyState
    created_at: float
    expires_at: float
    response_status: int | None = None
    response_body: str | None = None


def fingerprint(body: Mapping[str, Any]) -> str:
    """sha256 of the body's canonical JSON (sorted keys, no insignificant whitespace), so two
    bodies that mean the same thing match whatever their key order or spacing.

    >>> fingerprint({"b": 1, "a": [1, 2]}) == fingerprint({"a": [1, 2], "b": 1})
    True
    """
    if _ENCODE is not None and type(body) is dict:
        try:
            canonical = "".join(_ENCODE(body, 0))
        except (TypeError, ValueError, RecursionError):  # let the full encoder say what is wrong
            canonical = _CANONICAL.encode(body)
    else:
        canonical = _CANONICAL.encode(body)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_key(key: str) -> str | None:
    """An error message for a malformed key, or None when it is usable (1–255 printable ASCII)."""
    if not key:
        return "Idempotency-Key must not be empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters (got {len(key)})"
    if _PRINTABLE_ASCII.fullmatch(key) is None:
        return "Idempotency-Key must be printable ASCII without spaces"
    return None


# Built twice per keyed request, in both drivers: made directly (see `records`).
_record = record_maker(KeyRecord)


def new_record(key: str, body_fingerprint: str, now: float, policy: IdempotencyPolicy) -> KeyRecord:
    return _record(key, body_fingerprint, KeyState.IN_FLIGHT, now, now + policy.ttl_s, None, None)


def complete(record: KeyRecord, status: int, body: str | None) -> KeyRecord:
    """The record completed with the answer to replay (`body` None: the store keeps the answer
    itself)."""
    return _record(
        record.key,
        record.fingerprint,
        KeyState.COMPLETED,
        record.created_at,
        record.expires_at,
        status,
        body,
    )


def decide(
    record: KeyRecord | None,
    body_fingerprint: str,
    now: float,
    policy: IdempotencyPolicy | None = None,
) -> Decision:
    """What to do with a request carrying a key whose stored record is `record`."""
    policy = policy or IdempotencyPolicy()
    if record is None or now >= record.expires_at:
        return Decision.PROCEED
    if record.fingerprint != body_fingerprint:
        return Decision.MISMATCH
    if record.state is KeyState.COMPLETED:
        return Decision.REPLAY
    if now - record.created_at >= policy.in_flight_lease_s:
        return Decision.RECOVER
    return Decision.IN_FLIGHT
