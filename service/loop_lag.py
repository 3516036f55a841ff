"""Event-loop lag: how late the service's loop wakes a task that asked to sleep a short while.

Why: every request, the relay and the calendar calls share one loop; when something blocks it
(a long synchronous call, a full garbage collection, a starved CPU), every in-flight request
waits, and calendar attempts time out although the provider answered in time. The lag is
observed into `event_loop_lag_seconds` and a stall past `STALL_S` is logged, so a latency spike
in a run can be told apart from a slow provider.
Uses the loop's own clock (monotonic), not the app's `Clock`: it measures the loop, not the
booking logic, and never runs in the twin.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Histogram

log = logging.getLogger("service.loop")

INTERVAL_S = 0.02
STALL_S = 0.05


async def watch_loop_lag(histogram: Histogram) -> None:
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(INTERVAL_S)
        lag = loop.time() - asked - INTERVAL_S
        histogram.observe(max(lag, 0.0))
        if lag > STALL_S:
            log.warning("event loop stalled", extra={"lag_ms": round(lag * 1000, 1)})
