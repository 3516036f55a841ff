"""The twin's randomness: one `random.Random` per component, derived from the run seed.

Components and their names: "network" (toxicity and jitter draws), "service-jitter" (the retry
plan's backoff, per incarnation), "service-time" (CPU time spread, per incarnation), "ids"
(appointment, hold and saga ids). Client streams seed themselves (`contract.workload`), and the
provider's draws are keyed per call (`fakes.calendar.fault_rules`), exactly as in real mode.
Derivation is SHA-256 of the JSON-encoded parts (`fakes.calendar.seeding.derive_rng`), never
`hash()`, so every process and machine gets the same streams. Pure.
"""

from __future__ import annotations

import random

from fakes.calendar.seeding import Part, derive_rng

_CLEAR_VERSION = ~(0xF000 << 64)
_CLEAR_VARIANT = ~(0xC000 << 48)
_VERSION_4 = 4 << 76
_VARIANT_RFC = 0x8000 << 48


def component_rng(seed: int, component: str, *parts: Part) -> random.Random:
    """The RNG of one component of a run seeded `seed`.

    >>> component_rng(1, "network").random() == component_rng(1, "network").random()
    True
    """
    return derive_rng(seed, "sim", component, *parts)


def uuid4_text(bits: int) -> str:
    """`str(uuid.UUID(int=bits, version=4))`, at half the cost (the load draws one per request).

    >>> import uuid
    >>> uuid4_text(2**127 + 12345) == str(uuid.UUID(int=2**127 + 12345, version=4))
    True
    """
    h = "%032x" % ((bits & _CLEAR_VARIANT | _VARIANT_RFC) & _CLEAR_VERSION | _VERSION_4)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_id(rng: random.Random) -> str:
    """A UUID-4 id drawn from `rng` (the service uses uuid4; the twin must repeat)."""
    return uuid4_text(rng.getrandbits(128))
