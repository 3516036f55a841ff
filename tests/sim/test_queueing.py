"""`sim.queueing.FifoServers` computes what a FIFO `simpy.Resource` would do: same start and end
for every job, on random arrivals and holding times, for one server and for several."""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.queueing import FifoServers

Jobs = list[tuple[float, float]]  # (gap before arrival, holding time)


def with_simpy_resource(servers: int, jobs: Jobs) -> list[tuple[float, float]]:
    env = simpy.Environment()
    resource = simpy.Resource(env, capacity=servers)
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * len(jobs)

    def job(index: int, hold: float) -> Generator[Any, Any, None]:
        with resource.request() as granted:
            yield granted
            start = env.now
            yield env.timeout(hold)
            spans[index] = (start, env.now)

    def source() -> Generator[Any, Any, None]:
        for index, (gap, hold) in enumerate(jobs):
            yield env.timeout(gap)
            env.process(job(index, hold))

    env.process(source())
    env.run()
    return spans


def with_fifo_servers(servers: int, jobs: Jobs) -> list[tuple[float, float]]:
    queue = FifoServers(servers)
    now = 0.0
    spans = []
    for gap, hold in jobs:
        now += gap
        spans.append(queue.reserve(now, hold))
    return spans


durations = st.floats(min_value=0.0, max_value=2.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(servers=st.integers(1, 4), jobs=st.lists(st.tuples(durations, durations), max_size=40))
def test_fifo_servers_match_a_simpy_resource(servers: int, jobs: Jobs) -> None:
    expected = with_simpy_resource(servers, jobs)
    got = with_fifo_servers(servers, jobs)
    assert got == pytest.approx(expected, abs=1e-9)


def test_a_busy_queue_delays_and_an_idle_one_does_not() -> None:
    rng = random.Random(3)
    jobs = [(rng.expovariate(9.0), rng.expovariate(2.0)) for _ in range(2000)]  # rho = 1.5 / 3
    spans = with_fifo_servers(3, jobs)
    assert spans == pytest.approx(with_simpy_resource(3, jobs), abs=1e-9)
    assert any(start > arrival for (start, _), arrival in zip(spans, _arrivals(jobs), strict=True))
    unbounded = FifoServers(None)
    assert unbounded.reserve(5.0, 1.0) == (5.0, 6.0)
    assert unbounded.reserve(5.5, 1.0) == (5.5, 6.5)


def _arrivals(jobs: Jobs) -> list[float]:
    now, out = 0.0, []
    for gap, _ in jobs:
        now += gap
        out.append(now)
    return out
