"""What each toxic does to one direction of one connection, as pure state machines.

A link (one direction of a proxied connection) runs its bytes through a chain of stages, one per
toxic, in the order the toxics were added. Each stage is a small scheduler in the style of h11:
items go in with `push`, come out with `pull(now)` once their release time has come, and
`wake_at()` tells the driver when to look again. Nothing here waits, sleeps or touches a socket;
the driver in `link.py` owns the clock, the event loop and the sockets.

Items are `Chunk`s (bytes read from the source) and one final `End`: `EOF` (the source closed
its side), `CLOSE` (a toxic ends the connection) or `RESET` (a toxic resets it with RST). An
item's `at` is the nominal time it became available to the stage; release times are computed
from it, not from when the driver got round to pulling, so a chain of stages adds up exactly
and timing does not drift with event-loop load.

Semantics follow upstream Toxiproxy's toxics (attribute names and units in `schema.py`):
- latency: each chunk held `latency ± jitter` ms from its arrival, order preserved;
- bandwidth: released at `rate` KB/s, in pieces of at most 100 ms worth of bytes;
- slow_close: data passes, the end is held `delay` ms;
- timeout: data is dropped; the connection closes `timeout` ms after the stage started or last
  saw data (0: never); removing it closes the connection too (upstream's Cleanup);
- reset_peer: the first item starts a `timeout` ms timer, then the connection is reset (RST);
- slicer: each chunk cut into slices of `average_size ± size_variation` bytes, `delay` µs apart;
- limit_data: passes `bytes` bytes in total, then closes the connection;
- noop: passes everything through unchanged (a `Passthrough`, like upstream's NoopToxic).
A toxic whose toxicity draw misses a connection becomes a `Passthrough` on it.

Randomness: each stage draws from the `random.Random` it is given (see `rng.py`).
"""

from __future__ import annotations

import random
from collections import deque
from enum import Enum
from typing import Protocol

from fakes.toxiproxy.rng import draw_applies, draw_latency_ms, draw_slice_offsets
from fakes.toxiproxy.schema import ToxicSpec, ToxicType

__all__ = [
    "Chunk",
    "End",
    "EndKind",
    "Item",
    "Stage",
    "build_stage",
]


class EndKind(Enum):
    EOF = "eof"  # the source half-closed: pass the half-close on
    CLOSE = "close"  # a toxic ends the connection: close both sides
    RESET = "reset"  # a toxic resets the connection: RST both sides


class Chunk:
    """Bytes read from the source, available to a stage from time `at` (loop seconds)."""

    __slots__ = ("data", "at")

    def __init__(self, data: bytes, at: float) -> None:
        self.data = data
        self.at = at

    def __repr__(self) -> str:
        return f"Chunk({len(self.data)} bytes, at={self.at:.6f})"


class End:
    """The end of the stream, available from time `at`."""

    __slots__ = ("kind", "at")

    def __init__(self, kind: EndKind, at: float) -> None:
        self.kind = kind
        self.at = at

    def __repr__(self) -> str:
        return f"End({self.kind.name}, at={self.at:.6f})"


Item = Chunk | End


class Stage(Protocol):
    """One toxic on one link. Items pushed in come out of `pull` in order, or are dropped."""

    @property
    def effective(self) -> bool:
        """False when the stage passes everything through untouched (toxicity missed)."""
        ...

    @property
    def held_bytes(self) -> int:
        """Bytes pushed in and not yet pulled out (for back-pressure on the source)."""
        ...

    def push(self, item: Item) -> None: ...

    def pull(self, now: float) -> list[Item]:
        """Items whose release time is at or before `now`, with `at` set to that time."""
        ...

    def wake_at(self) -> float | None:
        """When `pull` may next return something; None if only a new push can change that."""
        ...

    def drain(self) -> list[Item]:
        """Hand back everything held, unreleased, e.g. to a replacement with new attributes."""
        ...

    def on_removed(self, now: float) -> list[Item]:
        """The toxic is removed: what to pass on to the rest of the chain."""
        ...


def build_stage(
    spec: ToxicSpec, rng: random.Random, now: float, previous: Stage | None = None
) -> Stage:
    """The stage for `spec` on one link, drawing toxicity (and later jitter, sizes) from `rng`.

    `previous` is the stage being replaced when the toxic is updated: state that upstream keeps
    across updates (limit_data's byte count) carries over.
    """
    if not draw_applies(rng, spec.toxicity):
        return Passthrough()
    attrs = spec.attributes
    match spec.type:
        case ToxicType.LATENCY:
            return LatencyStage(attrs["latency"], attrs["jitter"], rng)
        case ToxicType.BANDWIDTH:
            return BandwidthStage(attrs["rate"])
        case ToxicType.SLOW_CLOSE:
            return SlowCloseStage(attrs["delay"])
        case ToxicType.TIMEOUT:
            return TimeoutStage(attrs["timeout"], now)
        case ToxicType.RESET_PEER:
            return ResetPeerStage(attrs["timeout"])
        case ToxicType.SLICER:
            return SlicerStage(attrs["average_size"], attrs["size_variation"], attrs["delay"], rng)
        case ToxicType.LIMIT_DATA:
            sent = previous.sent_bytes if isinstance(previous, LimitDataStage) else 0
            return LimitDataStage(attrs["bytes"], sent)
        case ToxicType.NOOP:
            return Passthrough()
    raise AssertionError(f"unhandled toxic type {spec.type}")


class _Fifo:
    """A queue of items with non-decreasing release times; the base of every stage."""

    effective = True

    def __init__(self) -> None:
        # (release time, item); item.at stays the entry time until release.
        self._queue: deque[tuple[float, Item]] = deque()
        self._tail = float("-inf")
        self.held_bytes = 0

    def _schedule(self, ready: float, item: Item) -> None:
        ready = max(ready, self._tail)
        self._tail = ready
        self._queue.append((ready, item))
        if isinstance(item, Chunk):
            self.held_bytes += len(item.data)

    def push(self, item: Item) -> None:
        self._schedule(item.at, item)

    def pull(self, now: float) -> list[Item]:
        out: list[Item] = []
        queue = self._queue
        while queue and queue[0][0] <= now:
            ready, item = queue.popleft()
            item.at = ready
            if isinstance(item, Chunk):
                self.held_bytes -= len(item.data)
            out.append(item)
        return out

    def wake_at(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def drain(self) -> list[Item]:
        items = [item for _, item in self._queue]
        self._queue.clear()
        self.held_bytes = 0
        return items

    def on_removed(self, now: float) -> list[Item]:
        # Upstream: an interrupted toxic passes on what it holds ("don't drop data on the floor").
        return self.drain()


class Passthrough(_Fifo):
    """A toxic that missed this connection (toxicity), or a noop: everything passes at once."""

    effective = False


class LatencyStage(_Fifo):
    """Hold each chunk `latency_ms ± jitter_ms` from its arrival; one draw per chunk."""

    def __init__(self, latency_ms: int, jitter_ms: int, rng: random.Random) -> None:
        super().__init__()
        self._latency_ms = latency_ms
        self._jitter_ms = jitter_ms
        self._rng = rng

    def push(self, item: Item) -> None:
        if isinstance(item, End):
            self._schedule(item.at, item)
            return
        delay_ms = max(0, draw_latency_ms(self._rng, self._latency_ms, self._jitter_ms))
        self._schedule(item.at + delay_ms / 1000.0, item)


class BandwidthStage(_Fifo):
    """Release at most `rate_kbps` × 1000 bytes per second; 0 means unlimited (upstream)."""

    def __init__(self, rate_kbps: int) -> None:
        super().__init__()
        self._bytes_per_s = rate_kbps * 1000
        self._piece = max(1, rate_kbps * 100)  # 100 ms worth of bytes, as upstream slices
        self._free_at = float("-inf")

    def push(self, item: Item) -> None:
        if isinstance(item, End) or self._bytes_per_s <= 0:
            self._schedule(max(item.at, self._free_at), item)
            return
        data, piece = item.data, self._piece
        for offset in range(0, len(data), piece):
            part = data[offset : offset + piece] if len(data) > piece else data
            # A piece leaves once the link has had time to "transmit" it.
            self._free_at = max(self._free_at, item.at) + len(part) / self._bytes_per_s
            self._schedule(self._free_at, Chunk(part, item.at))


class SlowCloseStage(_Fifo):
    """Pass data at once; hold the end of the stream `delay_ms`."""

    def __init__(self, delay_ms: int) -> None:
        super().__init__()
        self._delay_s = delay_ms / 1000.0

    def push(self, item: Item) -> None:
        delay = self._delay_s if isinstance(item, End) else 0.0
        self._schedule(item.at + delay, item)


class SlicerStage(_Fifo):
    """Cut each chunk into slices of about `average_size` bytes, `delay_us` apart."""

    def __init__(
        self, average_size: int, size_variation: int, delay_us: int, rng: random.Random
    ) -> None:
        super().__init__()
        self._average = average_size
        self._variation = size_variation
        self._delay_s = delay_us / 1_000_000.0
        self._rng = rng
        self._free_at = float("-inf")

    def push(self, item: Item) -> None:
        if isinstance(item, End):
            self._schedule(max(item.at, self._free_at), item)
            return
        data = item.data
        offsets = draw_slice_offsets(self._rng, len(data), self._average, self._variation)
        release = max(item.at, self._free_at)
        for start, end in zip(offsets, offsets[1:], strict=False):
            self._schedule(release, Chunk(data[start:end], item.at))
            release += self._delay_s
        self._free_at = release


class LimitDataStage(_Fifo):
    """Pass `limit_bytes` bytes in total, then end the connection (CLOSE)."""

    def __init__(self, limit_bytes: int, sent_bytes: int = 0) -> None:
        super().__init__()
        self._limit = limit_bytes
        self.sent_bytes = sent_bytes
        self._closed = False

    def push(self, item: Item) -> None:
        if self._closed:
            return
        if isinstance(item, End):
            self._schedule(item.at, item)
            return
        remaining = max(0, self._limit - self.sent_bytes)
        data = item.data if len(item.data) <= remaining else item.data[:remaining]
        if data:
            self._schedule(item.at, Chunk(data, item.at))
            self.sent_bytes += len(data)
        if self.sent_bytes >= self._limit:
            self._closed = True
            self._schedule(item.at, End(EndKind.CLOSE, item.at))


class TimeoutStage:
    """Drop all data; close the connection `timeout_ms` after the start or the last chunk.

    With `timeout_ms == 0` the connection stays open, swallowing data, until the toxic is
    removed; removal closes it (upstream's Cleanup: the stream is no longer intact).
    """

    effective = True
    held_bytes = 0

    def __init__(self, timeout_ms: int, now: float) -> None:
        self._timeout_s = timeout_ms / 1000.0
        self._deadline = now + self._timeout_s if timeout_ms > 0 else None
        self._fired = False
        self._swallowed_end: End | None = None

    def push(self, item: Item) -> None:
        if self._fired:
            return
        if isinstance(item, End):
            self._swallowed_end = item
        elif self._deadline is not None:
            self._deadline = item.at + self._timeout_s

    def pull(self, now: float) -> list[Item]:
        if self._fired or self._deadline is None or now < self._deadline:
            return []
        self._fired = True
        return [End(EndKind.CLOSE, self._deadline)]

    def wake_at(self) -> float | None:
        return None if self._fired else self._deadline

    def drain(self) -> list[Item]:
        end, self._swallowed_end = self._swallowed_end, None
        return [end] if end is not None and not self._fired else []

    def on_removed(self, now: float) -> list[Item]:
        return [] if self._fired else [End(EndKind.CLOSE, now)]


class ResetPeerStage:
    """Hold everything; `timeout_ms` after the first item arrives, reset the connection."""

    effective = True

    def __init__(self, timeout_ms: int) -> None:
        self._timeout_s = timeout_ms / 1000.0
        self._held: list[Item] = []
        self._deadline: float | None = None
        self._fired = False
        self.held_bytes = 0

    def push(self, item: Item) -> None:
        if self._fired:
            return
        if self._deadline is None:
            self._deadline = item.at + self._timeout_s
        self._held.append(item)
        if isinstance(item, Chunk):
            self.held_bytes += len(item.data)

    def pull(self, now: float) -> list[Item]:
        if self._fired or self._deadline is None or now < self._deadline:
            return []
        self._fired = True
        self._held.clear()
        self.held_bytes = 0
        return [End(EndKind.RESET, self._deadline)]

    def wake_at(self) -> float | None:
        return None if self._fired else self._deadline

    def drain(self) -> list[Item]:
        items, self._held = self._held, []
        self.held_bytes = 0
        return items

    def on_removed(self, now: float) -> list[Item]:
        return self.drain()
