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

from collections.abc import Generator
from typing import Any

import simpy

from sim.flow_driver import wait
from sim.memory_store import MemoryStore, MemoryTransaction
from sim.timing import ServiceTiming


class _Done:
    """An awaitable that is already done (None): `__aexit__` has nothing to wait for."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, None]:
        return iter(())  # type: ignore[return-value]


_DONE = _Done()


class _TimedScope:
    __slots__ = ("store", "writes", "tx")

    def __init__(self, store: TimedStore, writes: bool) -> None:
        self.store = store
        self.writes = writes
        self.tx: MemoryTransaction | None = None

    async def __aenter__(self) -> MemoryTransaction:
        store = self.store
        env = store.env
        now = env.now
        commits_at = store.timing.step(now, write=self.writes)
        if commits_at > now:
            await wait(env.timeout(commits_at - now))
        tx = self.tx = store.memory.begin(self.writes)
        return tx

    def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> _Done:
        tx = self.tx
        if tx is not None:
            tx.end(commit=exc_type is None)
        return _DONE


class TimedStore:
    """`service.ports.store.Store` for the twin: the host's in-memory database, timed by the
    current incarnation's `ServiceTiming` (`timing`: the host sets it at each start — a restart
    brings new queues)."""

    __slots__ = ("env", "memory", "timing")

    def __init__(
        self, env: simpy.Environment, memory: MemoryStore, timing: ServiceTiming | None = None
    ) -> None:
        self.env = env
        self.memory = memory
        self.timing: ServiceTiming = timing  # type: ignore[assignment]

    def write(self) -> _TimedScope:
        return _TimedScope(self, True)

    def read(self) -> _TimedScope:
        return _TimedScope(self, False)
