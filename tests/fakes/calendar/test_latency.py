"""The latency model: samplers deterministic per seed, in range, shaped as configured."""

from __future__ import annotations

import random
import statistics

import pytest

from fakes.calendar.latency import (
    ConstantLatency,
    LognormalLatency,
    QueueLatency,
    UniformLatency,
    sample_service_ms,
    servers_of,
)
from fakes.calendar.seeding import derive_rng

UNIFORM = UniformLatency(dist="uniform", low_ms=20, high_ms=80)
LOGNORMAL = LognormalLatency(dist="lognormal", median_ms=50, sigma=0.8)


def samples(spec: object, seed: int, count: int = 2000) -> list[float]:
    rng = random.Random(seed)
    return [sample_service_ms(spec, rng) for _ in range(count)]  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", [UNIFORM, LOGNORMAL], ids=["uniform", "lognormal"])
def test_same_seed_same_samples_other_seed_other_samples(spec: object) -> None:
    assert samples(spec, seed=7) == samples(spec, seed=7)
    assert samples(spec, seed=7) != samples(spec, seed=8)


def test_constant_is_constant() -> None:
    assert set(samples(ConstantLatency(ms=12.5), seed=1, count=50)) == {12.5}


def test_uniform_stays_in_range_and_covers_it() -> None:
    drawn = samples(UNIFORM, seed=3)
    assert min(drawn) >= 20 and max(drawn) <= 80
    assert min(drawn) < 25 and max(drawn) > 75


def test_lognormal_has_the_configured_median_and_honours_its_cap() -> None:
    drawn = samples(LOGNORMAL, seed=5, count=5000)
    assert statistics.median(drawn) == pytest.approx(50, rel=0.1)
    assert min(drawn) > 0
    capped = LognormalLatency(dist="lognormal", median_ms=50, sigma=2, max_ms=120)
    assert max(samples(capped, seed=5)) == 120


def test_queue_draws_its_service_time_and_reports_its_servers() -> None:
    queue = QueueLatency(dist="queue", servers=4, service=UNIFORM)
    assert samples(queue, seed=2) == samples(UNIFORM, seed=2)
    assert servers_of(queue) == 4
    assert servers_of(UNIFORM) is None


def test_derived_generators_are_independent_streams() -> None:
    first = derive_rng(1, "latency", "create", "k", 1).random()
    assert first == derive_rng(1, "latency", "create", "k", 1).random()
    assert first != derive_rng(1, "latency", "create", "k", 2).random()
    assert first != derive_rng(2, "latency", "create", "k", 1).random()
