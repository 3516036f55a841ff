"""The twin's `/metrics` scrapes: a `MetricSample` every 0.25 s of virtual time.

Mirrors `scenarios.collect.MetricsSampler`: the outbox length (open rows), the breaker's state as
of the scrape, and the counters carried across restarts; no sample while the service is down
(real mode's scrape fails then, and the gap shows in the series). Samples fall on whole multiples
of the interval, counted as integers so virtual time never drifts; `final` takes the one after
the drain window. Time: the environment.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from contract.evidence import BreakerState, MetricSample
from sim.host import ServiceHost

SAMPLE_INTERVAL_S = 0.25
_STATES = {state.value: state for state in BreakerState}


class MetricSampler:
    def __init__(self, env: simpy.Environment, host: ServiceHost, until_s: float) -> None:
        self.env = env
        self.host = host
        self.samples: list[MetricSample] = []
        self.process = env.process(self._loop(until_s))

    def _loop(self, until_s: float) -> Generator[Any, Any, None]:
        env = self.env
        number = 1
        while number * SAMPLE_INTERVAL_S < until_s:
            yield env.timeout(number * SAMPLE_INTERVAL_S - env.now)
            self.sample()
            number += 1

    def sample(self) -> None:
        host = self.host
        if not host.up:
            return
        now = self.env.now
        breaker = host.breaker
        state = (
            _STATES[breaker.state(host.clock.now()).value]
            if breaker is not None
            else BreakerState.CLOSED
        )
        counters = host.counters
        self.samples.append(
            MetricSample(
                t_s=round(now, 6),
                outbox_length=len(host.memory.open_rows),
                breaker_state=state,
                retries_total=counters.retries_total,
                calendar_calls_total=counters.calendar_calls_total,
                breaker_open_count=host.breaker_open_count(),
            )
        )

    def final(self) -> None:
        """The scrape after the drain window (real mode's `sample_now`)."""
        self.sample()
