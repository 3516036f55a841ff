"""The asyncio side of the flow ports (`service.ports.context`): wake-up, task group and ids.

Owns the service's implementations of the ports that need asyncio or the OS: `AsyncioWakeup`
(an `asyncio.Event` cleared before each wait), `AsyncioTasks` (`asyncio.gather`) and `Uuid4Ids`
(`uuid.uuid4`). The twin has its own (SimPy events and processes, a seeded id stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Sequence
from typing import TypeVar

T = TypeVar("T")


class AsyncioWakeup:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float) -> None:
        self._event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)


class AsyncioTasks:
    async def gather(self, awaitables: Sequence[Awaitable[T]]) -> list[T]:
        return list(await asyncio.gather(*awaitables))


class Uuid4Ids:
    def new_id(self) -> str:
        return str(uuid.uuid4())
