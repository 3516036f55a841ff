"""The store port in virtual time: each transaction of the in-memory store, charged what the
service's database would take.

Owns when a transaction happens, nothing of what it does (that is `sim.memory_store`, and the
flows decide what to write). `write()` and `read()` first wait for the incarnation's timing
model (`sim.timing.ServiceTiming.step`: a slice of the event loop's CPU, a pool connection, the
database's time and, for writes, SQLite's single writer lock), then run the transaction whole
at that instant: its effects appear when it commits, in commit order, as in the service.
A crash while a request waits here leaves nothing behind: the transaction had not begun.
"""

from __future__ import annotations

import simpy

from sim.flow_driver import wait
from sim.memory_store import MemoryStore, MemoryTransaction
from sim.timing import ServiceTiming


class _TimedTransaction(MemoryTransaction):
    """A memory transaction that waits for its turn before it begins."""

    __slots__ = ("timed",)

    def __init__(self, timed: TimedStore, writable: bool) -> None:
        self.store = timed.memory
        self.writable = writable
        self._undo = []
        self.timed = timed

    async def __aenter__(self) -> MemoryTransaction:
        timed = self.timed
        env = timed.env
        now = env._now  # simpy 4's clock (the `now` property, without the call)
        ready = timed.not_before
        if ready and timed.not_before_owner is env.active_process:
            # A request's first transaction: it begins once the request has been parsed.
            timed.not_before = 0.0
            if ready > now:
                now = ready
        commits_at = timed.timing.step(now, write=self.writable)
        if commits_at > env._now:
            await wait(env.timeout(commits_at - env._now))
        return self


class TimedStore:
    """`service.ports.store.Store` for the twin: the host's in-memory database, timed by the
    current incarnation's `ServiceTiming` (`timing`: the host sets it at each start — a restart
    brings new queues)."""

    __slots__ = ("env", "memory", "timing", "not_before", "not_before_owner")

    def __init__(
        self, env: simpy.Environment, memory: MemoryStore, timing: ServiceTiming | None = None
    ) -> None:
        self.env = env
        self.memory = memory
        self.timing: ServiceTiming = timing  # type: ignore[assignment]
        # When the request about to begin its first transaction is ready for it (its parsing
        # CPU done; 0: none), and the process it runs in. Set by the host as it hands the
        # request's flow to that process (`ServiceHost.serve`), whose first transaction takes it;
        # a request that ends without one leaves it to be overwritten by the next.
        self.not_before = 0.0
        self.not_before_owner: simpy.Process | None = None

    def write(self) -> MemoryTransaction:
        return _TimedTransaction(self, True)

    def read(self) -> MemoryTransaction:
        return _TimedTransaction(self, False)
