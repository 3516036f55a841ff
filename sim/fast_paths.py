"""Byte-for-byte faster equivalents of shared helpers the twin calls once per request.

The twin sends the same requests as real mode and writes the same records, so it calls the shared
code (`scenarios.workload`, `fakes.calendar.schemas`) — but a few of those helpers are built for
one call at a time and dominate a run of tens of thousands. Each function here returns exactly
what the shared one does (`tests/sim/test_fast_paths.py` holds them equal) and falls back to it
outside the shapes it knows:
- `body_digest`: `scenarios.workload.body_digest` with one JSON encoder built once, instead of
  one per call (what `json.dumps(**options)` does);
- `iso_utc`: the ISO 8601 `Z` text pydantic writes for an aware UTC datetime (the fake's
  `event_to_json` builds a pydantic model per event).
The load's own `ClientStream` is used as it is: overriding its internals to format slots faster
broke the first time its slot grid changed.
Pure: no clock, no I/O, no randomness of its own.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def body_digest(body: dict[str, Any] | None) -> str | None:
    """`scenarios.workload.body_digest(body)` (sha256 of the canonical JSON)."""
    if body is None:
        return None
    return hashlib.sha256(_CANONICAL.encode(body).encode("utf-8")).hexdigest()


def iso_utc(moment: datetime) -> str:
    """An aware UTC datetime as pydantic's JSON mode writes it (`...Z`, microseconds if any)."""
    return moment.isoformat().replace("+00:00", "Z")
