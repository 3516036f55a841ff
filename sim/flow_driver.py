"""The SimPy driver for the service's flows: one coroutine, stepped inside a SimPy process.

The flows (`service.booking`, `service.relay`) are `async def`s written against ports. Under
SimPy their ports' awaitables (`wait`, `run_generator`) yield SimPy events; those travel up the
coroutine chain to `drive`, which yields them to SimPy and sends the event's value back down — a
coroutine stepped with `send()`, as FoundationDB runs its production code on a simulated network.
No asyncio loop exists in the twin: a flow that awaited anything but the twin's ports would fail
at once (SimPy refuses a yielded object that is not an event).

Death: when the service host crashes, every process it runs is interrupted (`simpy.Interrupt`);
`drive` then closes the coroutine where it stands (`GeneratorExit`: `finally` blocks run,
`except Exception` handlers do not — as an asyncio task cancelled by `kill -9` would not run
anything at all) and re-raises, so the caller sees the connection drop. The process that reached
the armed crash point gets `ServiceCrashed` (a `BaseException`) out of the flow instead.
Time: the environment's; randomness: none.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Coroutine, Generator, Sequence
from typing import Any, TypeVar

import simpy

T = TypeVar("T")


class ServiceCrashed(BaseException):
    """Raised in the flow that reached an armed crash point: it dies on the spot. A
    BaseException, so the flows' `except Exception` handlers (which log and carry on) cannot
    catch it, as they cannot catch a process's death."""


@types.coroutine
def wait(event: simpy.Event) -> Generator[simpy.Event, Any, Any]:
    """`await wait(event)`: the event's value once SimPy processes it."""
    return (yield event)


@types.coroutine
def run_generator(generator: Generator[Any, Any, T]) -> Generator[Any, Any, T]:
    """`await run_generator(gen)`: a SimPy-style generator (one that yields events) awaited
    from a flow; its return value is the result."""
    return (yield from generator)


def drive(coroutine: Coroutine[Any, Any, T]) -> Generator[simpy.Event, Any, T]:
    """Run `coroutine` to its end in the current SimPy process:
    `result = yield from drive(flow.run(...))`."""
    send = coroutine.send
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            event = send(value) if error is None else coroutine.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            value = yield event
            error = None
        except (simpy.Interrupt, GeneratorExit):  # the host died, or the run is being released
            coroutine.close()
            raise
        except BaseException as exc:  # a failed event: the flow sees the failure where it waits
            value, error = None, exc


class SimTasks:
    """`service.ports.context.TaskGroup` in SimPy: each awaitable its own process, awaited
    together. `spawned` collects them, so a crash of the host can interrupt them all."""

    def __init__(self, env: simpy.Environment, spawned: set[simpy.Process]) -> None:
        self.env = env
        self.spawned = spawned

    async def gather(self, awaitables: Sequence[Awaitable[T]]) -> list[T]:
        env = self.env
        processes = [env.process(self._run(aw)) for aw in awaitables]
        self.spawned.update(processes)
        try:
            await wait(env.all_of(processes))
        finally:
            self.spawned.difference_update(processes)
        return [p.value for p in processes]

    def _run(self, awaitable: Awaitable[T]) -> Generator[simpy.Event, Any, T | None]:
        try:
            return (yield from drive(awaitable))  # type: ignore[arg-type]
        except (simpy.Interrupt, ServiceCrashed):
            return None  # the host died: nobody is left to hear the answer
