"""The pure parts: seeded draws (`rng.py`), toxic stages (`toxics.py`), API shapes (`schema.py`).

No sockets, no sleeps: stages take time as `at`/`now`, draws a `random.Random`.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakes.toxiproxy.rng import (
    derive_seed,
    draw_applies,
    draw_latency_ms,
    draw_slice_offsets,
    rng_for_link,
)
from fakes.toxiproxy.schema import (
    ApiError,
    ProxySpec,
    Stream,
    ToxicSpec,
    ToxicType,
    format_address,
    parse_address,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
    toxic_to_json,
)
from fakes.toxiproxy.toxics import Chunk, End, EndKind, Passthrough, build_stage


def toxic(kind: ToxicType, toxicity: float = 1.0, **attributes: int) -> ToxicSpec:
    body = {"type": kind.value, "toxicity": toxicity, "attributes": attributes}
    return parse_toxic_create(body)


def stage_for(kind: ToxicType, *, seed: int = 1, now: float = 0.0, **attributes: int):
    return build_stage(toxic(kind, **attributes), random.Random(seed), now)


# -- rng ----------------------------------------------------------------------------------------


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(1, "db", "lat", 0) == derive_seed(1, "db", "lat", 0)
    variants = {
        derive_seed(1, "db", "lat", 0),
        derive_seed(2, "db", "lat", 0),
        derive_seed(1, "db2", "lat", 0),
        derive_seed(1, "db", "lat2", 0),
        derive_seed(1, "db", "lat", 1),
    }
    assert len(variants) == 5


def test_same_seed_same_jitter_sequence_other_seed_other_sequence():
    def sequence(seed: int) -> list[int]:
        rng = rng_for_link(seed, "db", "latency_downstream", 3)
        return [draw_latency_ms(rng, 100, 50) for _ in range(20)]

    assert sequence(5) == sequence(5)
    assert sequence(5) != sequence(6)
    assert all(50 <= delay < 150 for delay in sequence(5))


def test_toxicity_extremes_and_one_draw_each():
    rng = random.Random(0)
    assert not any(draw_applies(rng, 0.0) for _ in range(100))
    assert all(draw_applies(rng, 1.0) for _ in range(100))
    a, b = random.Random(9), random.Random(9)
    draw_applies(a, 0.0)
    draw_applies(b, 1.0)
    assert a.random() == b.random()  # the draw is consumed whatever the toxicity


@given(
    size=st.integers(0, 5000),
    average=st.integers(1, 300),
    variation_fraction=st.floats(0, 1),
    seed=st.integers(0, 2**32),
)
def test_slice_offsets_cover_the_data_in_bounded_non_empty_slices(
    size, average, variation_fraction, seed
):
    variation = int(average * variation_fraction)  # up to == average, which upstream accepts
    offsets = draw_slice_offsets(random.Random(seed), size, average, variation)
    assert offsets[0] == 0 and offsets[-1] == size
    slices = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
    assert all(0 < length <= average + variation for length in slices)


@pytest.mark.parametrize("average", [1, 2, 3, 7])
def test_variation_equal_to_average_never_cuts_an_empty_slice(average):
    # 2 * average + 1 bytes is the one size where upstream's draw can cut at the very start
    # (an empty slice, then the same piece again); every seed must give non-empty slices.
    size = 2 * average + 1
    for seed in range(500):
        offsets = draw_slice_offsets(random.Random(seed), size, average, average)
        slices = [b - a for a, b in zip(offsets, offsets[1:], strict=False)]
        assert sum(slices) == size and all(0 < n <= 2 * average for n in slices), (seed, slices)


def test_variation_equal_to_average_gives_upstreams_slice_sizes():
    # Upstream's recursion (toxics/slicer.go) with its empty slices dropped, against ours:
    # the same distribution of slicings for a 9-byte chunk at average 2, variation 2.
    def upstream(rng: random.Random, start: int, end: int) -> list[int]:
        if (end - start) - 2 <= 2:
            return [end - start] if end > start else []
        mid = start + (end - start) // 2 + rng.randrange(4) - 2
        return upstream(rng, start, mid) + upstream(rng, mid, end)

    def ours(rng: random.Random) -> list[int]:
        offsets = draw_slice_offsets(rng, 9, 2, 2)
        return [b - a for a, b in zip(offsets, offsets[1:], strict=False)]

    rng, runs = random.Random(3), 20_000
    theirs = Counter(tuple(upstream(rng, 0, 9)) for _ in range(runs))
    mine = Counter(tuple(ours(rng)) for _ in range(runs))
    assert set(mine) == set(theirs)
    assert all(abs(mine[k] - theirs[k]) / runs < 0.02 for k in theirs), (mine, theirs)


def test_slice_offsets_reject_sizes_that_would_never_end():
    with pytest.raises(ValueError, match="size_variation <= average_size"):
        draw_slice_offsets(random.Random(0), 100, 10, 11)
    with pytest.raises(ValueError, match="average_size >= 1"):
        draw_slice_offsets(random.Random(0), 100, 0, 0)


# -- stages -------------------------------------------------------------------------------------


def test_latency_holds_each_chunk_from_its_arrival_in_order():
    stage = stage_for(ToxicType.LATENCY, latency=100)
    stage.push(Chunk(b"a", 0.0))
    stage.push(Chunk(b"b", 0.05))
    stage.push(End(EndKind.EOF, 0.06))
    assert stage.wake_at() == pytest.approx(0.1)
    assert stage.pull(0.099) == []
    assert [c.data for c in stage.pull(0.1)] == [b"a"]
    out = stage.pull(0.1501)
    assert [type(i).__name__ for i in out] == ["Chunk", "End"]  # the end follows the data
    assert out[0].at == pytest.approx(0.15)


def test_latency_jitter_uses_the_seeded_rng():
    def releases(seed: int) -> list[float]:
        stage = stage_for(ToxicType.LATENCY, seed=seed, latency=50, jitter=40)
        for i in range(5):
            stage.push(Chunk(b"x", i * 1.0))
        return [item.at for item in stage.pull(10.0)]

    assert releases(3) == releases(3)
    assert releases(3) != releases(4)


def test_bandwidth_paces_bytes_at_the_rate():
    stage = stage_for(ToxicType.BANDWIDTH, rate=10)  # 10 KB/s -> 1000-byte pieces per 100 ms
    stage.push(Chunk(b"x" * 2500, 0.0))
    items = stage.pull(10.0)
    assert [len(i.data) for i in items] == [1000, 1000, 500]
    assert [round(i.at, 3) for i in items] == [0.1, 0.2, 0.25]


def test_bandwidth_zero_is_unlimited():
    stage = stage_for(ToxicType.BANDWIDTH, rate=0)
    stage.push(Chunk(b"x" * 10_000, 1.0))
    assert [i.at for i in stage.pull(1.0)] == [1.0]


def test_slow_close_delays_only_the_end():
    stage = stage_for(ToxicType.SLOW_CLOSE, delay=200)
    stage.push(Chunk(b"data", 0.0))
    stage.push(End(EndKind.EOF, 0.0))
    assert [i.data for i in stage.pull(0.0)] == [b"data"]
    assert stage.pull(0.19) == []
    assert isinstance(stage.pull(0.2)[0], End)


def test_timeout_drops_data_and_closes_after_idle_time():
    stage = stage_for(ToxicType.TIMEOUT, now=0.0, timeout=100)
    stage.push(Chunk(b"lost", 0.05))
    assert stage.wake_at() == pytest.approx(0.15)  # restarted by the chunk, as upstream
    assert stage.pull(0.149) == []
    (end,) = stage.pull(0.1501)
    assert end.kind is EndKind.CLOSE
    assert stage.wake_at() is None and stage.pull(1.0) == []


def test_timeout_zero_never_fires_but_removal_closes():
    stage = stage_for(ToxicType.TIMEOUT, timeout=0)
    stage.push(Chunk(b"lost", 0.0))
    assert stage.wake_at() is None and stage.pull(100.0) == []
    (end,) = stage.on_removed(5.0)
    assert end.kind is EndKind.CLOSE


def test_reset_peer_fires_after_the_first_item():
    stage = stage_for(ToxicType.RESET_PEER, timeout=50)
    assert stage.wake_at() is None  # nothing arrived: nothing scheduled
    stage.push(Chunk(b"a", 1.0))
    stage.push(Chunk(b"b", 1.02))
    assert stage.held_bytes == 2
    (end,) = stage.pull(1.05)
    assert end.kind is EndKind.RESET
    assert stage.held_bytes == 0


def test_limit_data_passes_n_bytes_then_closes_and_keeps_count_across_updates():
    stage = stage_for(ToxicType.LIMIT_DATA, bytes=10)
    stage.push(Chunk(b"123456", 0.0))
    assert [i.data for i in stage.pull(0.0)] == [b"123456"]
    updated = build_stage(toxic(ToxicType.LIMIT_DATA, bytes=10), random.Random(1), 0.0, stage)
    updated.push(Chunk(b"789abc", 0.0))
    out = updated.pull(0.0)
    assert out[0].data == b"789a"
    assert isinstance(out[1], End) and out[1].kind is EndKind.CLOSE
    updated.push(Chunk(b"more", 0.0))
    assert updated.pull(1.0) == []


def test_slicer_cuts_chunks_delay_apart():
    stage = stage_for(ToxicType.SLICER, average_size=10, size_variation=2, delay=1000)
    stage.push(Chunk(b"x" * 100, 0.0))
    items = stage.pull(1.0)
    assert b"".join(i.data for i in items) == b"x" * 100
    assert all(len(i.data) <= 12 for i in items)
    gaps = [b.at - a.at for a, b in zip(items, items[1:], strict=False)]
    assert all(gap == pytest.approx(0.001) for gap in gaps)


def test_a_missed_toxicity_draw_passes_everything_through():
    stage = stage_for(ToxicType.LATENCY, latency=1000, toxicity=0.0)
    assert isinstance(stage, Passthrough) and not stage.effective
    stage.push(Chunk(b"now", 2.0))
    assert [i.at for i in stage.pull(2.0)] == [2.0]


def test_removing_a_latency_releases_what_it_held():
    stage = stage_for(ToxicType.LATENCY, latency=1000)
    stage.push(Chunk(b"held", 0.0))
    assert [i.data for i in stage.on_removed(0.5)] == [b"held"]
    assert stage.held_bytes == 0


# -- schema -------------------------------------------------------------------------------------


def test_toxic_defaults_are_upstreams():
    spec = parse_toxic_create({"type": "slow_close"})
    assert spec == ToxicSpec(
        "slow_close_downstream", ToxicType.SLOW_CLOSE, Stream.DOWNSTREAM, 1.0, {"delay": 0}
    )


def test_stream_is_matched_ignoring_case_and_kept_as_sent():
    spec = parse_toxic_create({"type": "latency", "stream": "UpStream"})
    assert (spec.stream, spec.name) == (Stream.UPSTREAM, "latency_UpStream")
    assert toxic_to_json(spec)["stream"] == "UpStream"
    named = parse_toxic_create({"type": "latency", "stream": "DOWNSTREAM", "name": "slow"})
    assert (named.stream, named.name) == (Stream.DOWNSTREAM, "slow")
    assert parse_toxic_create({"type": "noop"}).name == "noop_downstream"
    updated = parse_toxic_update(spec, {"toxicity": 0.5})
    assert toxic_to_json(updated)["stream"] == "UpStream"
    for bad in ("", "up", "upstreams", "sideways"):
        with pytest.raises(ApiError, match="stream was invalid"):
            parse_toxic_create({"type": "latency", "stream": bad})


def test_noop_takes_no_attributes_and_passes_everything_through():
    spec = parse_toxic_create({"type": "noop", "attributes": {}})
    assert (spec.type, dict(spec.attributes)) == (ToxicType.NOOP, {})
    with pytest.raises(ApiError, match="unknown attribute 'latency' for toxic type noop"):
        parse_toxic_create({"type": "noop", "attributes": {"latency": 5}})
    stage = build_stage(spec, random.Random(1), 0.0)
    stage.push(Chunk(b"same", 1.0))
    stage.push(End(EndKind.EOF, 1.0))
    out = stage.pull(1.0)
    assert [(type(i).__name__, i.at) for i in out] == [("Chunk", 1.0), ("End", 1.0)]
    assert out[0].data == b"same"


def test_slicer_accepts_variation_up_to_the_average():
    equal = parse_toxic_create(
        {"type": "slicer", "attributes": {"average_size": 8, "size_variation": 8}}
    )
    assert equal.attributes == {"average_size": 8, "size_variation": 8, "delay": 0}
    for attributes in ({"average_size": 8, "size_variation": 9}, {"average_size": 0}):
        with pytest.raises(ApiError, match="size_variation <= average_size") as caught:
            parse_toxic_create({"type": "slicer", "attributes": attributes})
        assert caught.value.status == 400
    with pytest.raises(ApiError, match="size_variation <= average_size"):
        parse_toxic_update(equal, {"attributes": {"average_size": 7}})  # 8 > 7 after the merge


def test_toxic_update_merges_attributes_and_keeps_identity():
    spec = parse_toxic_create({"type": "latency", "name": "l", "attributes": {"latency": 9}})
    updated = parse_toxic_update(spec, {"attributes": {"jitter": 3}, "name": "ignored"})
    assert (updated.name, updated.attributes) == ("l", {"latency": 9, "jitter": 3})


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"type": 5},
        {"type": "latency", "attributes": []},
        {"type": "latency", "attributes": {"latency": True}},
        {"type": "latency", "toxicity": "high"},
    ],
)
def test_malformed_toxic_bodies_are_400(body):
    with pytest.raises(ApiError) as caught:
        parse_toxic_create(body)
    assert caught.value.status == 400


def test_proxy_update_keeps_absent_fields():
    current = ProxySpec("db", "127.0.0.1:5000", "127.0.0.1:5432", True)
    assert parse_proxy_update(current, {"enabled": False}) == ProxySpec(
        "db", "127.0.0.1:5000", "127.0.0.1:5432", False
    )
    with pytest.raises(ApiError, match="host:port"):
        parse_proxy_update(current, {"upstream": "no-port"})


def test_addresses_round_trip_like_go_prints_them():
    assert parse_address("[::1]:80", field_name="listen") == ("::1", 80)
    assert parse_address(":8474", field_name="listen") == ("", 8474)
    assert format_address("::1", 80) == "[::1]:80"
    assert format_address("127.0.0.1", 80) == "127.0.0.1:80"
    with pytest.raises(ApiError):
        parse_address("localhost:99999", field_name="listen")


def test_docstring_examples_hold():
    import doctest

    from fakes.toxiproxy import rng, schema

    for module in (rng, schema):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
