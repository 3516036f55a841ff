"""The service→provider network path in virtual time: a base delay, the toxics in force, down.

Owns what one message meets on one direction (`upstream`: the request, `downstream`: the
answer), following the semantics of `fakes/toxiproxy/toxics.py`:
- latency: + latency ± jitter ms; bandwidth: + bytes / rate; slicer: + one `delay` µs per slice;
  slow_close: nothing an HTTP caller waits for;
- timeout: the data is dropped and the connection closed `timeout` ms later (0: never);
- reset_peer: the data is held and the connection reset `timeout` ms later;
- limit_data: a message longer than `bytes` is cut and the connection closed;
- down (proxy disabled): a new connection is refused at once.
Toxics apply in the order they were added, each with probability `toxicity`.

Simplified against the real proxy: the toxicity draw is per message, not per pooled connection,
and `limit_data` counts per message, not per connection lifetime; calls already in flight when
the proxy goes down finish as they would have. Randomness: one `random.Random` (the "proxy"
component of the run seed, `contract.seeds`); time: the caller's `now`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

NEVER = math.inf


@dataclass(frozen=True)
class Crossing:
    """How one message crosses: it arrives `delay_s` after it left, unless the connection fails
    first, at `fails_at` (absolute time; `NEVER` for a black hole), and the data never arrives."""

    delay_s: float
    fails_at: float | None = None


class NetworkPath:
    """The proxy between the service and the provider, as the fault timeline sets it."""

    def __init__(self, one_way_s: float, rng: random.Random) -> None:
        self.one_way_s = one_way_s
        self.rng = rng
        self.down = False
        self._toxics: dict[int, Any] = {}  # timeline index → NetworkFault, in the order added
        self._clear = {"upstream": Crossing(one_way_s), "downstream": Crossing(one_way_s)}
        self._by_stream: dict[str, list[Any]] = {"upstream": [], "downstream": []}

    def add(self, index: int, fault: Any) -> None:
        """Put a toxic (a `contract.spec` network fault) or `down` in force."""
        if fault.action == "down":
            self.down = True
            return
        self._toxics[index] = fault
        self._restream()

    def remove(self, index: int, fault: Any) -> None:
        if fault.action == "down":
            self.down = False
            return
        self._toxics.pop(index, None)
        self._restream()

    def _restream(self) -> None:
        self._by_stream = {"upstream": [], "downstream": []}
        for fault in self._toxics.values():
            self._by_stream[fault.params.stream].append(fault)

    def cross(self, stream: str, sent_at: float, size_bytes: int) -> Crossing:
        """What a message of `size_bytes` sent at `sent_at` on `stream` meets."""
        toxics = self._by_stream[stream]
        if not toxics:
            return self._clear[stream]
        delay_s = self.one_way_s
        for fault in toxics:
            params = fault.params
            if params.toxicity < 1.0 and not self.rng.random() < params.toxicity:
                continue
            action = fault.action
            if action == "latency":
                jitter = params.jitter
                ms = params.latency + (self.rng.randrange(2 * jitter) - jitter if jitter else 0)
                delay_s += max(ms, 0) / 1000.0
            elif action == "bandwidth":
                if params.rate <= 0:
                    return Crossing(delay_s, NEVER)
                delay_s += size_bytes / (params.rate * 1000.0)
            elif action == "slicer":
                slices = math.ceil(size_bytes / params.average_size)
                delay_s += slices * params.delay / 1_000_000.0
            elif action == "timeout":
                closes = NEVER if params.timeout == 0 else sent_at + delay_s + params.timeout / 1000
                return Crossing(delay_s, closes)
            elif action == "reset_peer":
                return Crossing(delay_s, sent_at + delay_s + params.timeout / 1000.0)
            elif action == "limit_data":
                if params.bytes < size_bytes:
                    return Crossing(delay_s, sent_at + delay_s)
            # slow_close: the close is late, the answer is not.
        return Crossing(delay_s)
