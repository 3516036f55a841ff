"""The calendar gateway in virtual time: each provider operation run as the SAME retry plan.

The twin of `service.calendar.gateway`: `service.resilience.retry_plan` (attempts, backoff with
full jitter, Retry-After) behind the incarnation's `CircuitBreaker`, bounded by the caller's
`Deadline`, driven by `sim.driver.run_plan`. Counts what the service's `/metrics` counts: every
attempt in `calendar_calls_total`, a plan refused by the breaker before any attempt as one more
call, `retries_total` as attempts beyond the first; and, per appointment, the create attempts
made for it (the evidence's `calendar_attempts`). An attempt is counted when it starts (the
service counts it when it ends; the two differ only for attempts cut off by the end of a run).
Must not touch the service state. Randomness: the incarnation's jitter `random.Random`; time:
the environment.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import Any

import simpy

from service.resilience.breaker import CircuitBreaker
from service.resilience.deadline import Deadline
from service.resilience.outcomes import Outcome
from service.resilience.retry_plan import Attempt, PlanResult, PlanStatus, RetryPolicy, retry_plan
from sim.calendar_link import CalendarLink, Confirmation
from sim.driver import run_plan
from sim.provider import ProviderRequest

GatewayResult = tuple[PlanResult, str | None]  # the plan's result, the confirmed event id
SUCCEEDED = PlanStatus.SUCCEEDED
BREAKER_OPEN = PlanStatus.BREAKER_OPEN


class ServiceCounters:
    """The service's counters, kept across restarts (the runner's sampler carries them too)."""

    __slots__ = ("retries_total", "calendar_calls_total", "breaker_opens_before", "create_attempts")

    def __init__(self) -> None:
        self.retries_total = 0
        self.calendar_calls_total = 0
        self.breaker_opens_before = 0  # openings counted by earlier incarnations' breakers
        self.create_attempts: dict[str, int] = {}  # appointment id → create attempts for it


class _PlanRun:
    """One operation's attempts: what `run_plan` calls for each `Attempt` of the plan."""

    __slots__ = ("link", "request", "counters", "appointment_id", "confirmation")

    def __init__(
        self,
        link: CalendarLink,
        request: ProviderRequest,
        counters: ServiceCounters,
        appointment_id: str | None,
    ) -> None:
        self.link = link
        self.request = request
        self.counters = counters
        self.appointment_id = appointment_id
        self.confirmation = Confirmation()

    def attempt(self, step: Attempt) -> Generator[Any, Any, Outcome]:
        counters = self.counters
        counters.calendar_calls_total += 1
        if self.appointment_id is not None:
            attempts = counters.create_attempts
            attempts[self.appointment_id] = attempts.get(self.appointment_id, 0) + 1
        # The link's generator itself, not a wrapper: one frame less on every resume.
        return self.link.call(self.request, step.timeout_s, self.confirmation)


class SimGateway:
    """One incarnation's gateway: its breaker and jitter RNG die with it at a crash."""

    def __init__(
        self,
        env: simpy.Environment,
        link: CalendarLink,
        rng: random.Random,
        breaker: CircuitBreaker | None,
        counters: ServiceCounters,
    ) -> None:
        self.env = env
        self.link = link
        self.rng = rng
        self.breaker = breaker
        self.counters = counters

    def call(
        self,
        request: ProviderRequest,
        deadline: Deadline | None,
        policy: RetryPolicy,
        appointment_id: str | None = None,
    ) -> Generator[Any, Any, GatewayResult]:
        """Run one operation's plan: `result, event_id = yield from gateway.call(...)`.

        `appointment_id` (creates only) attributes the attempts to that appointment.
        """
        env = self.env
        run = _PlanRun(self.link, request, self.counters, appointment_id)
        plan = retry_plan(policy, self.rng, env.now, deadline, self.breaker)
        result = yield from run_plan(env, plan, run.attempt)
        attempts = result.attempts
        if attempts > 1:
            self.counters.retries_total += attempts - 1
        status = result.status
        if status is SUCCEEDED:
            return result, run.confirmation.event_id
        if status is BREAKER_OPEN and attempts == 0:
            self.counters.calendar_calls_total += 1  # the service counts the refusal as a call
        return result, None
