"""The service's production clock: epoch seconds that never step backwards within a process.

Implements `service.clock.Clock`. Times the service persists (outbox due times, claim leases,
key expiry) are read by other processes (the standalone relay, a restarted service, a replica),
so they must be on a shared scale: epoch seconds. Deadlines and backoff need a clock that does not
jump when NTP steps the wall clock. This one is both: the wall clock read once at start, advanced
by the monotonic clock.
"""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    def __init__(self) -> None:
        self._wall_at_start = time.time()
        self._mono_at_start = time.monotonic()

    def now(self) -> float:
        return self._wall_at_start + (time.monotonic() - self._mono_at_start)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class LoopClock:
    """asyncio's loop clock: monotonic, and the one asyncio's own timeouts use (tests)."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
