"""One derivation of every component's seed from the run seed, the same in real and sim mode.

A run has one seed (the scenario's `seed:`, or `--seed`); each component that draws gets its own
seed from it, here and nowhere else:

- `workload`: each client stream of the load, per (scenario name, client number)
  (`contract.workload.ClientStream`; Locust, the scripted bursts and the twin alike);
- `service-jitter`: the service's own `random.Random` (retry-plan jitter, a conflict's pause),
  per incarnation from 1: real mode starts each service process with it as `REHEARSAL_SEED`
  (a restart after a crash is the next incarnation), the twin seeds each incarnation with it;
- `provider`: the fake provider's fault-profile seed (its keyed fault decisions and event ids):
  real mode puts it in every profile it sends, the twin's provider uses it;
- `proxy`: the proxy's draws (toxicity, jitter, slicer sizes): the embedded Toxiproxy's
  `--seed`, and the twin's network path;
- `ids`: appointment, hold and saga ids, and `service-time`: the spread of CPU time — the twin
  only (the service draws its ids from the OS, and real CPU time is not drawn).

What a component does with its seed (the provider's per-request keys, the proxy's
per-connection streams) is its own. The seed is the first 8 bytes of the SHA-256 of the JSON
`[run_seed, component, *parts]`, never Python's salted `hash()`: every process, machine and
mode gets the same number. Pure.
"""

from __future__ import annotations

import hashlib
import json
import random

#: The components a run seeds, as named above.
COMPONENTS = ("workload", "service-jitter", "provider", "proxy", "ids", "service-time")

Part = str | int


def derive_seed(run_seed: int, component: str, *parts: Part) -> int:
    """The seed of one component of a run seeded `run_seed`: a 64-bit non-negative integer.

    >>> derive_seed(1, "service-jitter", 1) == derive_seed(1, "service-jitter", 1)
    True
    >>> derive_seed(1, "service-jitter", 1) == derive_seed(1, "service-jitter", 2)
    False
    """
    if component not in COMPONENTS:
        raise ValueError(f"unknown component {component!r} (known: {', '.join(COMPONENTS)})")
    encoded = json.dumps([run_seed, component, *parts], separators=(",", ":"), ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(encoded.encode("utf-8")).digest()[:8], "big")


def component_rng(run_seed: int, component: str, *parts: Part) -> random.Random:
    """A fresh `random.Random` seeded with `derive_seed(run_seed, component, *parts)`: the very
    generator the service builds from the `REHEARSAL_SEED` real mode gives it."""
    return random.Random(derive_seed(run_seed, component, *parts))
