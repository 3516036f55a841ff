"""One direction of a proxied connection: bytes from a source socket, through the toxics of
that direction, to a destination socket.

Owns the byte path and its back-pressure; it must not open, close or account for sockets (its
`Connection` does) nor know the HTTP API (its proxy hands toxics down through the connection).

Theory of operation.
- Fast path, no effective toxic on the link: the source socket's `data_received` *is* the
  destination transport's `write` (see `Side.route`), so the event loop hands each read straight
  over: no Python frame of ours, no task, no queue, no copy. The destination's write-buffer
  pause/resume pauses/resumes reading the source.
- Toxic path: bytes go through the link's stages (`toxics.py`, pure) driven by one pump task per
  link, created when the first effective toxic arrives and finished once the last one is gone
  and nothing is held; the link is then back on the fast path. The pump sleeps until the
  earliest stage deadline or a kick (new bytes, a toxic change, the destination draining).
- Adding, updating or removing a toxic changes the link at once and never awaits it, so the
  API never waits on a connection (upstream's API can hang there, Toxiproxy issues #412/#558).
- The end of the stream (EOF, or a toxic's CLOSE/RESET) travels through the stages like data;
  when it reaches the destination the connection is told (`Connection.link_ended`).

Time: `time.monotonic()`, read when bytes arrive and when the pump wakes (not `loop.time()`:
uvloop's is cached per loop iteration and its timers are millisecond-grained, which could
release a chunk a fraction of a millisecond before its latency is up). Randomness: the RNG the
proxy derives per toxic and connection (`ConnectionOwner.rng_for`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fakes.toxiproxy.schema import Stream, ToxicSpec
from fakes.toxiproxy.toxics import Chunk, End, EndKind, Item, Stage, build_stage

if TYPE_CHECKING:
    from fakes.toxiproxy.connection import Connection, Side

__all__ = ["Link"]

log = logging.getLogger(__name__)

# Bytes a toxic chain may hold before the source is paused (resumed below the low mark).
HELD_HIGH = 1024 * 1024
HELD_LOW = 256 * 1024
_now = time.monotonic


@dataclass
class _Slot:
    """One toxic on one link: the API's spec, the stage doing the work, the RNG it draws from."""

    spec: ToxicSpec
    stage: Stage
    rng: random.Random


class Link:
    """One direction of a connection: source socket -> toxic stages -> destination socket."""

    def __init__(self, connection: Connection, source: Side, dest: Side, stream: Stream) -> None:
        self.connection = connection
        self.source = source
        self.dest = dest
        self.stream = stream
        self.slots: list[_Slot] = []
        self.finished = False  # the end has been delivered (or the destination is gone)
        self._started = False
        self._input_ended = False
        self._early_end: EndKind | None = None
        self._loop = connection.loop
        self._pump: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._sink: deque[Item] = deque()
        self._sink_bytes = 0
        self._dest_paused = False
        self._source_paused = False
        source.link_out = self
        dest.link_in = self

    # -- wiring -------------------------------------------------------------------------------

    def start(self, specs: list[ToxicSpec], index: int) -> None:
        """Attach the proxy's current toxics for this direction and start carrying bytes."""
        now = _now()
        for spec in specs:
            rng = self.connection.owner.rng_for(spec.name, index)
            self.slots.append(_Slot(spec, build_stage(spec, rng, now), rng))
        self._started = True
        self._ensure_mode()
        for data in self.source.take_early():
            self._feed(data)
        if self._early_end is not None:
            self.feed_end(self._early_end)

    def _ensure_mode(self) -> None:
        """Start the pump if a toxic is effective, and point the source at the right path."""
        if self._pump is None and any(slot.stage.effective for slot in self.slots):
            self._pump = self._loop.create_task(self._run_pump())
        if self._pump is None and not self.finished and self.dest.transport is not None:
            self.source.route(self.dest.transport.write)
        else:
            self.source.route(self._feed)

    # -- toxics changing under a live link ---------------------------------------------------

    def add_toxic(self, spec: ToxicSpec, index: int) -> None:
        if self.finished:
            return
        rng = self.connection.owner.rng_for(spec.name, index)
        self.slots.append(_Slot(spec, build_stage(spec, rng, _now()), rng))
        self._ensure_mode()
        self._kick()

    def update_toxic(self, spec: ToxicSpec) -> None:
        """Rebuild the toxic's stage with new attributes; what it held goes through the new one."""
        if self.finished:
            return
        for slot in self.slots:
            if slot.spec.name == spec.name:
                held = slot.stage.drain()
                stage = build_stage(spec, slot.rng, _now(), previous=slot.stage)
                for item in held:
                    stage.push(item)
                slot.spec, slot.stage = spec, stage
                break
        self._ensure_mode()
        self._kick()

    def remove_toxic(self, name: str) -> None:
        """Take the toxic out; what it held (or its parting CLOSE) moves on down the chain."""
        for position, slot in enumerate(self.slots):
            if slot.spec.name == name:
                del self.slots[position]
                if not self.finished:
                    self._pass_on(position, slot.stage.on_removed(_now()))
                break
        if not self.finished:
            self._ensure_mode()
            self._kick()

    # -- bytes in -----------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        if self.finished or self._input_ended:
            return
        if self._pump is None:
            if self.dest.transport is not None:
                self.dest.transport.write(data)
            return
        self._pass_on(0, [Chunk(data, _now())])
        self._kick()
        self._update_source_pause()

    def feed_end(self, kind: EndKind) -> None:
        """The source is done: EOF (half-close) or CLOSE (it failed)."""
        if self._input_ended or self.finished:
            return
        if not self._started:
            self._early_end = kind  # a server that greets and hangs up before we are wired
            return
        self._input_ended = True
        end = End(kind, _now())
        if self._pump is None:
            self._deliver_end(end)
        else:
            self._pass_on(0, [end])
            self._kick()

    def set_dest_paused(self, paused: bool) -> None:
        self._dest_paused = paused
        if self._pump is not None:
            self._kick()
        self._update_source_pause()

    # -- the toxic path -----------------------------------------------------------------------

    def _pass_on(self, position: int, items: list[Item]) -> None:
        """Push items into the stage at `position`, or into the sink past the last stage."""
        if not items:
            return
        if position < len(self.slots):
            stage = self.slots[position].stage
            for item in items:
                stage.push(item)
        else:
            for item in items:
                self._sink.append(item)
                if isinstance(item, Chunk):
                    self._sink_bytes += len(item.data)

    def _kick(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _advance(self, now: float) -> None:
        """Move every item whose time has come one or more stages on, then write the sink."""
        for position, slot in enumerate(self.slots):
            released = slot.stage.pull(now)
            if released:
                self._pass_on(position + 1, released)
        while self._sink and not self._dest_paused and not self.finished:
            item = self._sink.popleft()
            if isinstance(item, End):
                self._deliver_end(item)
                break
            self._sink_bytes -= len(item.data)
            transport = self.dest.transport
            if transport is not None and not transport.is_closing():
                transport.write(item.data)

    def _held_bytes(self) -> int:
        return self._sink_bytes + sum(slot.stage.held_bytes for slot in self.slots)

    def _is_idle(self) -> bool:
        """No effective toxic and nothing in flight: the fast path can take over again."""
        if self._sink or any(slot.stage.effective for slot in self.slots):
            return False
        return all(
            slot.stage.wake_at() is None and not slot.stage.held_bytes for slot in self.slots
        )

    def _next_wake(self) -> float | None:
        times = [t for slot in self.slots if (t := slot.stage.wake_at()) is not None]
        return min(times) if times else None

    async def _run_pump(self) -> None:
        loop = self._loop
        try:
            while True:
                self._advance(_now())
                self._update_source_pause()
                if self.finished:
                    return
                if self._is_idle():
                    self._pump = None
                    self._ensure_mode()
                    return
                wake = self._next_wake()
                waiter = self._waiter = loop.create_future()
                timer = None
                if wake is not None:
                    timer = loop.call_later(max(0.0, wake - _now()), _resolve, waiter)
                try:
                    await waiter
                finally:
                    self._waiter = None
                    if timer is not None:
                        timer.cancel()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not leave the connection half alive
            log.exception("toxiproxy: link %s of proxy %s failed", self.stream, self.owner_name)
            self.connection.abort()

    @property
    def owner_name(self) -> str:
        return self.connection.owner.name

    def _update_source_pause(self) -> None:
        limit = HELD_LOW if self._source_paused else HELD_HIGH
        held = self._held_bytes() if self._pump is not None else 0
        pause = self._dest_paused or held > limit
        transport = self.source.transport
        if pause == self._source_paused or transport is None or transport.is_closing():
            return
        self._source_paused = pause
        if pause:
            transport.pause_reading()
        else:
            transport.resume_reading()

    # -- the end ------------------------------------------------------------------------------

    def _deliver_end(self, end: End) -> None:
        self.finished = True
        self.source.route(_discard)
        self.connection.link_ended(self, end.kind)

    def abandon(self) -> None:
        """The destination is gone: drop whatever is in flight and stop."""
        self.finished = True
        self.source.route(_discard)
        self._sink.clear()
        self._sink_bytes = 0
        self.stop()

    def stop(self) -> None:
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()
        self._pump = None


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _discard(data: bytes) -> None:
    return None  # bytes for a destination that is gone
