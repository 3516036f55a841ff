"""Where one service incarnation spends time: its event loop's CPU and its database connections.

Owns the service-time model of `sim.config.TwinParams`. The service is asyncio: CPU work of all
requests shares `cpu_workers` FIFO workers (uvicorn's event loop: one), while database I/O runs
beside it. A request's CPU (`cpu_<op>_ms`, spread log-normally by `cpu_sigma`) is split around
its I/O: `cpu_before_share` of it before its first transaction (`front`), a short slice each
time it resumes after I/O (`step`), the rest after its last one (`finish`: rendering the
answer). Each transaction holds one of `db_pool_size` connections, a write also SQLite's single
writer lock. Interleaving CPU this way is what opens the window between a legacy read-check and
its insert that another request's work falls into (the v1 double booking).

All queues are `sim.queueing.FifoServers`, so a caller learns when its step ends and waits once.
A crash throws them away with the process. Randomness: the incarnation's "service-time" RNG;
time: the caller's `now`.
"""

from __future__ import annotations

import math
import random

from sim.config import TwinParams
from sim.queueing import FifoServers

_CPU_FIELDS = {
    "create": "cpu_create_ms",
    "replay": "cpu_create_ms",
    "conflict": "cpu_create_ms",
    "get": "cpu_get_ms",
    "list": "cpu_list_ms",
    "cancel": "cpu_cancel_ms",
    "reschedule": "cpu_reschedule_ms",
}


class ServiceTiming:
    """One incarnation's CPU and database queues (a single CPU worker and SQLite's single writer
    are kept as plain free-at times: the common case, on every request's path)."""

    def __init__(self, params: TwinParams, db_pool_size: int, rng: random.Random) -> None:
        self._cpu = FifoServers(params.cpu_workers) if params.cpu_workers > 1 else None
        self._cpu_free = 0.0
        self._pool = FifoServers(max(1, db_pool_size))
        self._single_writer = params.db_single_writer
        self._writer_free = 0.0
        self._read_s = params.db_read_ms / 1000.0
        self._write_s = params.db_write_ms / 1000.0
        self._slice_s = params.cpu_slice_ms / 1000.0
        share = params.cpu_before_share
        self._before_s = {op: getattr(params, f) * share / 1000.0 for op, f in _CPU_FIELDS.items()}
        self._after_s = {
            op: getattr(params, f) * (1.0 - share) / 1000.0 for op, f in _CPU_FIELDS.items()
        }
        self._sigma = params.cpu_sigma
        self._rng = rng

    def _run_cpu(self, arrival: float, cpu_s: float) -> float:
        """When CPU work of `cpu_s` offered at `arrival` is done (FIFO on the workers)."""
        if self._cpu is not None:
            return self._cpu.reserve(arrival, cpu_s)[1]
        free = self._cpu_free
        end = (arrival if arrival > free else free) + cpu_s
        self._cpu_free = end
        return end

    def _spread(self, cpu_s: float) -> float:
        if self._sigma:
            return cpu_s * math.exp(self._sigma * self._rng.gauss(0.0, 1.0))
        return cpu_s

    def front_cpu(self, arrival: float, operation: str) -> float:
        """When a request arriving at `arrival` has been parsed and routed (CPU), before its
        first transaction — which, like every later one, `step` times with its own slice (so the
        slice is taken off here: the request's CPU stays `cpu_<op>_ms` in all)."""
        cpu_s = self._spread(self._before_s[operation]) - self._slice_s
        return self._run_cpu(arrival, cpu_s if cpu_s > 0.0 else 0.0)

    def front(self, arrival: float, operation: str, write: bool) -> float:
        """When a request arriving at `arrival` has parsed (CPU) and run its first transaction."""
        cpu_end = self._run_cpu(arrival, self._spread(self._before_s[operation]))
        return self.transaction(cpu_end, write)

    def step(self, now: float, write: bool) -> float:
        """When a transaction begun by a request resuming at `now` (a CPU slice first) commits."""
        return self.transaction(self._run_cpu(now, self._slice_s), write)

    def finish(self, now: float, operation: str) -> float:
        """When the answer of a request whose work ended at `now` has been rendered (CPU)."""
        return self._run_cpu(now, self._spread(self._after_s.get(operation, 0.0)))

    def transaction(self, now: float, write: bool) -> float:
        """When a transaction that begins at `now` commits."""
        pool = self._pool
        start = pool.start_at(now)
        if write:
            if self._single_writer:
                free = self._writer_free
                if free > start:
                    start = free
                end = start + self._write_s
                self._writer_free = end
            else:
                end = start + self._write_s
        else:
            end = start + self._read_s
        pool.occupy(end)
        return end
