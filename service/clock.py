"""The service's clock seam: a `Clock` protocol and the event-loop clock behind it.

Everything in the service that needs time takes a Clock, so tests can pass a manual one and the
pure core keeps receiving `now` as a float. `LoopClock` reads the running loop's monotonic time.
"""

from __future__ import annotations

import asyncio
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock (only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """asyncio's loop clock: monotonic, and the one asyncio's own timeouts use."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
