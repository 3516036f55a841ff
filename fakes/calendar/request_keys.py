"""How a call is named for fault keying and attempt counting: key, or fingerprint when it has none.

Pure: no I/O. A create is named by its `Idempotency-Key` header, else its client-supplied event id,
else a SHA-256 fingerprint of its body (canonical JSON, so whitespace and key order do not matter);
other calls by the `Idempotency-Key` header, else a fingerprint of method, path and sorted query.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class CallKey:
    """`key` plus where it came from: "header", "id" or "fingerprint"."""

    key: str
    source: str


def key_for_create(idempotency_key: str | None, body: bytes) -> CallKey:
    """The key of `POST /v1/events` with this header value and raw body.

    >>> key_for_create(None, b'{"id": "e1", "calendar_id": "c"}')
    CallKey(key='e1', source='id')
    """
    if idempotency_key:
        return CallKey(idempotency_key, "header")
    try:
        payload = json.loads(body)
    except ValueError:
        return CallKey(_fingerprint(body), "fingerprint")
    if isinstance(payload, dict) and isinstance(payload.get("id"), str) and payload["id"]:
        return CallKey(payload["id"], "id")
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return CallKey(_fingerprint(b"POST /v1/events " + canonical), "fingerprint")


def key_for_request(
    idempotency_key: str | None, method: str, path: str, query: Iterable[tuple[str, str]]
) -> CallKey:
    """The key of a get, delete or list: its `Idempotency-Key`, else a request fingerprint."""
    if idempotency_key:
        return CallKey(idempotency_key, "header")
    described = f"{method} {path}?{sorted(query)!r}".encode()
    return CallKey(_fingerprint(described), "fingerprint")


def _fingerprint(data: bytes) -> str:
    return "fp:" + hashlib.sha256(data).hexdigest()[:32]
