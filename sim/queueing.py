"""FIFO multi-server queues computed, not simulated: when a job that arrives now starts and ends.

`FifoServers(c)` answers, for jobs offered in arrival order with a known holding time, exactly
what a `simpy.Resource(capacity=c)` with FIFO requests would: a job starts when it arrives or
when the earliest of the c servers frees, whichever is later, and holds that server until it
ends (the Lindley recursion, kept as a heap of the servers' free times). The caller then waits
once (`yield env.timeout(end - now)`) instead of request / grant / hold / release, which is what
lets the twin run tens of thousands of requests a second; `tests/sim/test_queueing.py` holds it
to `simpy.Resource` on random arrivals.

Constraints: offer jobs in non-decreasing arrival order (the twin offers each when its process
arrives there); the holding time must be known when the job starts (service times, transaction
times, a hang bounded by its caller's timeout). Pure: no clock, no randomness.
"""

from __future__ import annotations

import heapq


class FifoServers:
    """c servers with one FIFO queue. `servers=None`: unbounded (every job starts on arrival)."""

    __slots__ = ("servers", "_free_at")

    def __init__(self, servers: int | None) -> None:
        if servers is not None and servers < 1:
            raise ValueError(f"a queue needs at least one server (got {servers})")
        self.servers = servers
        self._free_at: list[float] = [0.0] * servers if servers is not None else []

    def start_at(self, arrival: float) -> float:
        """When a job arriving at `arrival` would start (follow with `occupy`)."""
        if not self._free_at:
            return arrival
        free = self._free_at[0]
        return arrival if arrival >= free else free

    def occupy(self, end: float) -> None:
        """The job just asked about (`start_at`) holds the earliest free server until `end`."""
        if self._free_at:
            heapq.heapreplace(self._free_at, end)

    def reserve(self, arrival: float, hold_s: float) -> tuple[float, float]:
        """(start, end) of a job arriving at `arrival` that holds a server for `hold_s`.

        >>> q = FifoServers(1)
        >>> q.reserve(0.0, 2.0), q.reserve(1.0, 2.0), q.reserve(5.0, 1.0)
        ((0.0, 2.0), (2.0, 4.0), (5.0, 6.0))
        """
        start = self.start_at(arrival)
        end = start + hold_s
        self.occupy(end)
        return start, end

    def busy(self, now: float) -> int:
        """Servers still held at `now`."""
        return sum(1 for t in self._free_at if t > now)
