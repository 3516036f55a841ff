"""Exponential backoff with full jitter, honouring a server's Retry-After hint.

Pure: randomness comes from a `random.Random` the caller owns, so the same seed gives the same
sleeps in the service and in the SimPy twin.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    base_s: float = 0.05
    cap_s: float = 2.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < 0:
            raise ValueError(
                f"backoff base_s and cap_s must be >= 0 (got {self.base_s}, {self.cap_s})"
            )
        if self.multiplier < 1:
            raise ValueError(f"backoff multiplier must be >= 1 (got {self.multiplier})")


def backoff_ceiling(policy: BackoffPolicy, retry_number: int) -> float:
    """The largest sleep before retry `retry_number` (1 = the first retry): min(cap, base * m^(n-1))."""
    if retry_number < 1:
        raise ValueError(f"retry_number starts at 1 (got {retry_number})")
    # Cap the exponent's effect before it overflows a float on absurd retry counts.
    exponent = min(retry_number - 1, 64)
    try:
        grown = policy.base_s * policy.multiplier**exponent
    except OverflowError:  # a huge multiplier: m^e is past any float, so only the cap is left
        grown = policy.cap_s if policy.base_s > 0 else 0.0
    return float(min(policy.cap_s, grown))


def compute_backoff(
    policy: BackoffPolicy,
    retry_number: int,
    rng: random.Random,
    retry_after_s: float | None = None,
) -> float:
    """Sleep before retry `retry_number`: uniform in [0, ceiling] ("full jitter", which spreads
    synchronized clients apart), but never sooner than the server's Retry-After hint.

    >>> compute_backoff(BackoffPolicy(base_s=0.1), 1, random.Random(7), retry_after_s=1.0)
    1.0
    """
    jittered = rng.uniform(0.0, backoff_ceiling(policy, retry_number))
    if retry_after_s is not None and retry_after_s > jittered:
        return float(retry_after_s)
    return jittered
