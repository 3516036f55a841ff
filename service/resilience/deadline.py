"""Deadline arithmetic: a budget that starts at `start` on the caller's clock.

Pure: every question takes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deadline:
    start: float
    budget_s: float

    @property
    def at(self) -> float:
        return self.start + self.budget_s

    def remaining(self, now: float) -> float:
        return max(0.0, self.at - now)

    def expired(self, now: float) -> bool:
        return now >= self.at

    def clamp(self, timeout_s: float, now: float) -> float:
        """The timeout to give one attempt: never past the deadline."""
        return min(timeout_s, self.remaining(now))
