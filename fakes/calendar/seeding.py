"""Deterministic randomness: a `random.Random` or an id derived from a tuple of parts.

Pure: no I/O, no clock, no global `random`. Python's `hash()` is salted per process, so it is never
used; the parts are encoded as JSON and hashed with SHA-256, which gives the same stream in every
process, on every machine, whatever order requests arrive in.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid

Part = str | int | float | None


def _digest(seed: int, parts: tuple[Part, ...]) -> bytes:
    encoded = json.dumps([seed, *parts], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).digest()


def derive_rng(seed: int, *parts: Part) -> random.Random:
    """A fresh `random.Random` owned by the caller, seeded from (seed, *parts).

    >>> a, b = derive_rng(1, "create", "k1", 1), derive_rng(1, "create", "k1", 1)
    >>> a.random() == b.random()
    True
    """
    return random.Random(int.from_bytes(_digest(seed, parts), "big"))


def derive_uuid(seed: int, *parts: Part) -> str:
    """A version-4-shaped UUID string that is a pure function of (seed, *parts)."""
    return str(uuid.UUID(bytes=_digest(seed, parts)[:16], version=4))
