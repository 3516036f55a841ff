"""Byte-for-byte faster equivalents of shared helpers the twin calls once per request.

The twin sends the same requests as real mode and writes the same records, so it calls the shared
code (`contract.workload`, `fakes.calendar.schemas`) — but a few of those helpers are built for
one call at a time and dominate a run of tens of thousands. Each function here returns exactly
what the shared one does (`tests/sim/test_fast_paths.py` holds them equal) and falls back to it
outside the shapes it knows:
- `body_digest`: `contract.workload.body_digest` with one C JSON encoder built once, instead of
  one `JSONEncoder` and one C encoder per call (what `json.dumps(**options)` does); a create
  body of the workload's shape (`contract.workload.create_body`: six keys, two nested pairs,
  text that JSON writes as is) is written by one f-string, in under half the encoder's time;
- `iso_utc`: the ISO 8601 `Z` text pydantic writes for an aware UTC datetime (the fake's
  `event_to_json` builds a pydantic model per event); `written_as_iso_utc(text)`: whether a
  text parsed into a datetime is already that text, so it can stand for it unwritten;
(Records are built with `service.resilience.records.record_maker`, shared with the service.)
The load's own `ClientStream` is made fast where it lives (`contract.workload`), not overridden
here: overriding its internals broke the first time its slot grid changed.
Pure: no clock, no I/O, no randomness of its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# What `_CANONICAL.encode` builds on every call, built once: the C encoder with the same options.
# Without the circular-reference markers, which only matter for a body that cannot be encoded,
# and such a body goes the slow way (and fails there with its own message).
_make_c_encoder = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = (
    _make_c_encoder(
        None, _CANONICAL.default, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if _make_c_encoder is not None
    else None
)


def _create_body_json(body: dict[str, Any]) -> str | None:
    """The canonical JSON of a create body of the workload's shape (keys sorted at each level,
    no spaces); None for any other body, or for text JSON would escape (a quote, a backslash, a
    control character: `isprintable` is False for the latter, and for a few more, which merely
    take the encoder's way)."""
    if len(body) != 6:
        return None
    try:
        owner = body["owner"]
        slot = body["slot"]
        if type(owner) is not dict or len(owner) != 2 or type(slot) is not dict or len(slot) != 2:
            return None
        customer, email, name = body["customer_id"], owner["email"], owner["name"]
        resource, service, title = body["resource_id"], body["service_type"], body["title"]
        end, start = slot["end_time"], slot["start_time"]
    except KeyError:
        return None
    texts = (customer, email, name, resource, service, end, start, title)
    for text in texts:
        if type(text) is not str:
            return None
    joined = "".join(texts)
    if not joined.isprintable() or '"' in joined or "\\" in joined:
        return None
    return (
        f'{{"customer_id":"{customer}","owner":{{"email":"{email}","name":"{name}"}},'
        f'"resource_id":"{resource}","service_type":"{service}",'
        f'"slot":{{"end_time":"{end}","start_time":"{start}"}},"title":"{title}"}}'
    )


def body_digest(body: dict[str, Any] | None) -> str | None:
    """`contract.workload.body_digest(body)` (sha256 of the canonical JSON)."""
    if body is None:
        return None
    if type(body) is dict:
        text = _create_body_json(body)
        if text is not None:
            return hashlib.sha256(text.encode("utf-8")).hexdigest()
    if _ENCODE is not None and type(body) is dict:
        try:
            text = "".join(_ENCODE(body, 0))
        except Exception:  # noqa: BLE001 - whatever it is, the slow way raises it properly
            text = _CANONICAL.encode(body)
    else:
        text = _CANONICAL.encode(body)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def iso_utc(moment: datetime) -> str:
    """An aware UTC datetime as pydantic's JSON mode writes it (`...Z`, microseconds if any)."""
    return moment.isoformat().replace("+00:00", "Z")


# Whole-second UTC in the extended format: what `iso_utc` writes back unchanged once parsed.
_WHOLE_SECOND_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def written_as_iso_utc(text: str) -> bool:
    """True when `iso_utc(datetime.fromisoformat(text)) == text` (for a text that parses at
    all): whole-second UTC times such as the workload's slots, a fifth of the cost of writing
    the datetime out again. Other texts (offsets, fractions, week dates) say False.

    >>> written_as_iso_utc("2030-01-07T08:00:00Z"), written_as_iso_utc("2030-01-07T08:00:00+00:00")
    (True, False)
    """
    return _WHOLE_SECOND_UTC.fullmatch(text) is not None
