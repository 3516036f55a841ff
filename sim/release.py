"""Letting a finished run go: break the reference cycles it leaves, so it is freed at once.

A run ends with work still scheduled (the relay's next poll, requests in flight, the provider's
pending work) and SimPy processes suspended on it: each process and the event it waits on refer
to each other, and the process's frame holds the model (database, call log, records). Left so,
the whole model is garbage only to the cyclic collector, which then traverses it — run after run,
a tenth of a sweep's time. `release_run` drops the schedule and closes the suspended generators
(their `finally` blocks run, as when an interpreter exits), after which reference counting frees
the model the moment the caller lets go of it. Call it only once the evidence is gathered.

Uses two SimPy internals, `Environment._queue` and `Process._generator` (simpy 4, pinned in
pyproject.toml); `tests/sim/test_release.py` fails if a run again leaves its model to the
collector. No clock, no randomness.
"""

from __future__ import annotations

from collections.abc import Iterator

import simpy
from simpy.events import Condition


def release_run(env: simpy.Environment) -> None:
    """Close every process suspended on a scheduled event (or on a condition or process that
    waits on one), then drop the schedule."""
    queue = getattr(env, "_queue", None)
    if not isinstance(queue, list):  # pragma: no cover - another SimPy: leave it to the collector
        return
    suspended = list(_suspended_processes([entry[-1] for entry in queue]))
    queue.clear()
    for process in suspended:
        generator = getattr(process, "_generator", None)
        if generator is not None:
            generator.close()


def _suspended_processes(scheduled: list[simpy.Event]) -> Iterator[simpy.Process]:
    """Processes that wait, directly or through conditions and other processes, on `scheduled`."""
    seen: set[int] = set()
    stack = list(scheduled)
    while stack:
        event = stack.pop()
        for callback in event.callbacks or ():
            waiter = getattr(callback, "__self__", None)
            if not isinstance(waiter, simpy.Process | Condition) or id(waiter) in seen:
                continue
            seen.add(id(waiter))
            stack.append(waiter)  # whoever waits on this process or condition
            if isinstance(waiter, simpy.Process) and waiter.is_alive:
                yield waiter
