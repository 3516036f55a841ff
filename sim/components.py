"""The twin's ids: the service's uuid4 text, drawn from a seeded `random.Random`.

The generator comes from the run contract's one seed derivation (`contract.seeds`: the "ids"
component), like every other component's of the twin; the load's streams, the provider's keyed
draws and the proxy's are seeded there too. Pure.
"""

from __future__ import annotations

import random

_CLEAR_VERSION = ~(0xF000 << 64)
_CLEAR_VARIANT = ~(0xC000 << 48)
_VERSION_4 = 4 << 76
_VARIANT_RFC = 0x8000 << 48


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
