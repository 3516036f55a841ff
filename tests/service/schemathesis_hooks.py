"""Schemathesis hooks for the fuzz test (loaded by `st run` through SCHEMATHESIS_HOOKS).

Two rules of a slot cannot be said in JSON Schema: start before end, at most 4 h, in UTC. Bodies
generated from the description alone almost never meet them, so every create and reschedule would
stop at a 422 and the flows behind it (booking, replays, conflicts, cancel and reschedule of real
appointments) would go untested. This hook turns any slot whose two times are strings into a
valid 30-minute UTC slot derived from those strings: the same generated slot gives the same real
one (so shrinking and replays stay meaningful, and equal slots collide as a 409). Schemathesis
re-checks a case against the schema after hooks change it, so a case generated to be invalid is
still judged as invalid only if it still is.

The body's `idempotency_key` stands in for the Idempotency-Key header (DESIGN §3: both are
accepted), which OpenAPI cannot say: the description documents the header as required. A case
that leaves the header out therefore leaves the body's key out too, so that "missing required
header" is tested as the description states it rather than flagged for the documented alternative.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import schemathesis

_SLOTTED_PATHS = ("/v1/appointments", "/v1/appointments/{appointment_id}/reschedule")
_FIRST_SLOT = dt.datetime(2032, 1, 5, 8, 0, tzinfo=dt.UTC)
_SLOTS = 2 * 24 * 365  # half-hour slots in a year


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def valid_slot(body: Any) -> Any:
    """`body` with a valid slot in place of one whose two times are strings; else unchanged."""
    if not isinstance(body, dict) or not isinstance(body.get("slot"), dict):
        return body
    slot = body["slot"]
    start, end = slot.get("start_time"), slot.get("end_time")
    if not (isinstance(start, str) and isinstance(end, str)):
        return body
    digest = hashlib.sha256(f"{start}|{end}".encode()).digest()
    begins = _FIRST_SLOT + dt.timedelta(minutes=30 * (int.from_bytes(digest[:4], "big") % _SLOTS))
    valid = {"start_time": _iso(begins), "end_time": _iso(begins + dt.timedelta(minutes=30))}
    return {**body, "slot": {**slot, **valid}}


def without_body_key(body: Any) -> Any:
    if isinstance(body, dict) and "idempotency_key" in body:
        return {k: v for k, v in body.items() if k != "idempotency_key"}
    return body


# map_case, not map_body: the coverage phase applies only case hooks.
@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
    body = case.body
    if case.operation.path in _SLOTTED_PATHS:
        body = valid_slot(body)
    headers = {name.lower() for name in case.headers or {}}
    if case.operation.method.upper() == "POST" and "idempotency-key" not in headers:
        body = without_body_key(body)
    if body is not case.body:
        case.body = body
    return case
