"""The service's clock seam: the `Clock` protocol every flow and client reads time through.

Protocol only (no asyncio here, so the flows can import it and still run under SimPy). The
implementations: `service.system_clock.SystemClock` (production: epoch seconds advanced by the
monotonic clock), `service.system_clock.LoopClock` (the running loop's monotonic time, for
tests), and the twin's virtual clock.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on the service's clock (only differences mean anything to the flows; stored
        times are compared across processes, so production uses epoch seconds)."""
        ...

    async def sleep(self, seconds: float) -> None: ...
