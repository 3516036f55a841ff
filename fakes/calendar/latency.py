"""The provider's latency model: its specifications and how to sample them.

Pure: no I/O, no clock, no global `random`. Sampling takes a `random.Random` the caller owns (see
`fakes.calendar.seeding.derive_rng`), so a sample is a function of that generator's seed.

Four models, chosen by `dist`:
- `constant` (`ms`), `uniform` (`low_ms`, `high_ms`), `lognormal` (`median_ms`, `sigma`, optional
  `max_ms` cap): the delay of one call, independent of load;
- `queue` (`servers`, `service`): a provider with `servers` workers; each call is served for a time
  drawn from `service` (one of the three above) and waits for a free worker first, so the provider
  slows down under load. The waiting is the runner's job: the real fake holds an
  `asyncio.Semaphore(servers)`, the SimPy twin a `simpy.Resource(capacity=servers)`; this module
  only gives the service time (`sample_service_ms`) and the worker count (`servers_of`).
"""

from __future__ import annotations

import math
import random
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

NonNegativeMs = Annotated[float, Field(ge=0, le=600_000, strict=True)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConstantLatency(_Spec):
    """Every call takes `ms`."""

    dist: Literal["constant"] = "constant"
    ms: NonNegativeMs = 0.0


class UniformLatency(_Spec):
    """A call takes a time drawn uniformly from [`low_ms`, `high_ms`]."""

    dist: Literal["uniform"]
    low_ms: NonNegativeMs
    high_ms: NonNegativeMs

    @model_validator(mode="after")
    def _check_order(self) -> UniformLatency:
        if self.high_ms < self.low_ms:
            raise ValueError(
                f"high_ms must be >= low_ms (got low_ms={self.low_ms}, high_ms={self.high_ms})"
            )
        return self


class LognormalLatency(_Spec):
    """A call takes `median_ms * exp(sigma * Z)`, Z standard normal; capped at `max_ms` if set."""

    dist: Literal["lognormal"]
    median_ms: Annotated[float, Field(gt=0, le=600_000, strict=True)]
    sigma: Annotated[float, Field(ge=0, le=5, strict=True)]
    max_ms: NonNegativeMs | None = None


ServiceLatency = Annotated[
    ConstantLatency | UniformLatency | LognormalLatency, Field(discriminator="dist")
]


class QueueLatency(_Spec):
    """`servers` workers, each call served for a time drawn from `service`, FIFO wait for a worker."""

    dist: Literal["queue"]
    servers: Annotated[int, Field(ge=1, le=10_000, strict=True)]
    service: ServiceLatency


LatencySpec = Annotated[
    ConstantLatency | UniformLatency | LognormalLatency | QueueLatency, Field(discriminator="dist")
]


def sample_service_ms(
    spec: ConstantLatency | UniformLatency | LognormalLatency | QueueLatency, rng: random.Random
) -> float:
    """The time one call spends being served, in ms (for `queue`, excluding the wait for a worker).

    Deterministic in `rng`: the same generator state gives the same sample. Always >= 0.

    >>> spec = UniformLatency(dist="uniform", low_ms=10, high_ms=20)
    >>> sample_service_ms(spec, random.Random(7)) == sample_service_ms(spec, random.Random(7))
    True
    """
    if isinstance(spec, QueueLatency):
        return sample_service_ms(spec.service, rng)
    if isinstance(spec, ConstantLatency):
        return spec.ms
    if isinstance(spec, UniformLatency):
        return rng.uniform(spec.low_ms, spec.high_ms)
    sample = spec.median_ms * math.exp(spec.sigma * rng.gauss(0.0, 1.0))
    return sample if spec.max_ms is None else min(sample, spec.max_ms)


def servers_of(
    spec: ConstantLatency | UniformLatency | LognormalLatency | QueueLatency,
) -> int | None:
    """The worker count of a `queue` model; None for models without a queue (unbounded concurrency)."""
    return spec.servers if isinstance(spec, QueueLatency) else None
