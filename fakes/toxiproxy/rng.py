"""Seeded random draws for the embedded Toxiproxy: which RNG a toxic uses, and what it draws.

Upstream Toxiproxy draws from Go's global `math/rand` (its `-seed` flag has done nothing since
2.9), so two runs never repeat. Here every draw comes from a `random.Random` derived from the
server's seed and the draw's place in the system: `sha256(seed|proxy|toxic|connection-index)`.
The same seed, the same proxies and toxics and the same connection order give the same jitter,
toxicity and slicer sizes, whatever else runs alongside.

Pure: no I/O, no clock, no global `random`. The caller owns each `random.Random` and the order
of draws on it (one RNG per toxic per connection; draws happen in byte-stream order).
"""

from __future__ import annotations

import hashlib
import random

__all__ = [
    "derive_seed",
    "draw_applies",
    "draw_latency_ms",
    "draw_slice_offsets",
    "rng_for_link",
]


def derive_seed(seed: int, *parts: str | int) -> int:
    """Derive a 64-bit seed from the run seed and a path of names or indices.

    Parts are joined with `|`, so `("a|b",)` and `("a", "b")` collide; callers pass names that
    Toxiproxy already forbids to be ambiguous (a proxy name, a toxic name, an index).

    >>> derive_seed(1, "db", "latency", 0) == derive_seed(1, "db", "latency", 0)
    True
    >>> derive_seed(1, "db", "latency", 0) == derive_seed(1, "db", "latency", 1)
    False
    """
    key = "|".join([str(seed), *(str(part) for part in parts)])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def rng_for_link(seed: int, proxy: str, toxic: str, connection_index: int) -> random.Random:
    """The RNG one toxic uses on one connection of one proxy.

    `connection_index` counts the connections the proxy accepted, from 0 (reset by `/reset`).
    """
    return random.Random(derive_seed(seed, proxy, toxic, connection_index))


def draw_applies(rng: random.Random, toxicity: float) -> bool:
    """Whether a toxic applies to a connection: true with probability `toxicity` (0..1).

    Always consumes exactly one draw, so what comes after does not depend on the toxicity.
    Toxicity 1 always applies, toxicity 0 never does.
    """
    return rng.random() < toxicity


def draw_latency_ms(rng: random.Random, latency_ms: int, jitter_ms: int) -> int:
    """One chunk's delay in ms: `latency_ms` plus a uniform integer in `[-jitter_ms, jitter_ms)`.

    Same distribution as upstream (`latency + rand.Int63n(2*jitter) - jitter`); a negative
    result means "no delay". Draws nothing when `jitter_ms` is 0.
    """
    if jitter_ms <= 0:
        return latency_ms
    return latency_ms + rng.randrange(2 * jitter_ms) - jitter_ms


def draw_slice_offsets(
    rng: random.Random, size: int, average_size: int, size_variation: int
) -> list[int]:
    """Cut points that split `size` bytes into slices of about `average_size` ± `size_variation`.

    Returns ascending offsets from 0 to `size` inclusive; slice i is `data[o[i]:o[i+1]]`. Splits
    in two near the middle (shifted by a draw in `[-size_variation, size_variation)`) until each
    piece is at most `average_size + size_variation`, as upstream's slicer does. Requires
    `average_size >= 1` and `0 <= size_variation <= average_size`; every slice is non-empty and
    every split makes both pieces smaller, so it ends after at most `size` splits.

    With `size_variation == average_size` upstream's draw can put the cut at the very start of
    a piece of `2 * average_size + 1` bytes: it emits an empty slice and splits the same piece
    again. Such a draw is left out of the range here, so the slices that carry bytes follow
    upstream's size distribution, with no empty slice and no repeat. (With `size_variation < average_size`
    that draw cannot happen and the range is upstream's, draw for draw.)

    >>> draw_slice_offsets(random.Random(0), 10, 4, 0)
    [0, 2, 5, 7, 10]
    >>> draw_slice_offsets(random.Random(0), 3, 1, 1)
    [0, 1, 3]
    """
    if average_size < 1 or not 0 <= size_variation <= average_size:
        raise ValueError(
            f"slicer needs average_size >= 1 and 0 <= size_variation <= average_size "
            f"(got average_size={average_size}, size_variation={size_variation})"
        )
    offsets = [0]
    if size <= 0:
        return offsets
    # Explicit stack instead of recursion: pieces are cut left to right, same order as upstream.
    pending = [(0, size)]
    while pending:
        start, end = pending.pop()
        if end - start - average_size <= size_variation:
            offsets.append(end)
            continue
        half = (end - start) // 2
        shift = 0
        if size_variation:
            # The piece is longer than average + variation, so half >= variation and the
            # right piece keeps >= 2 bytes; only a cut at `start` (half == variation, i.e.
            # variation == average) would be empty: start the range one byte later.
            low = max(-size_variation, 1 - half)
            shift = rng.randrange(low, size_variation)
        mid = start + half + shift
        pending.append((mid, end))
        pending.append((start, mid))
    return offsets
