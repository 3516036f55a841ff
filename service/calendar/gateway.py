"""The calendar gateway: each provider operation run as a retry plan behind the breaker.

Owns the policy around the client: `service.resilience.retry_plan` (attempts, backoff with jitter,
Retry-After), the circuit breaker, the deadline, and the metrics of calls, retries and breaker
state. Drives plans with `service.plan_driver.run_plan` on the app's clock; jitter comes from the
app's `random.Random`. Must not touch the database: callers decide what a result means.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

from service.calendar.contract import CalendarClient, CallResult, EventSpec
from service.clock import Clock
from service.metrics import ServiceMetrics
from service.plan_driver import run_plan
from service.resilience.breaker import CircuitBreaker
from service.resilience.deadline import Deadline
from service.resilience.outcomes import Outcome
from service.resilience.retry_plan import Attempt, PlanResult, PlanStatus, RetryPolicy, retry_plan

log = logging.getLogger("service.calendar")


@dataclass(frozen=True)
class GatewayResult:
    plan: PlanResult
    body: dict[str, Any] | None  # the provider's answer to the last attempt

    @property
    def ok(self) -> bool:
        return self.plan.status is PlanStatus.SUCCEEDED

    @property
    def error(self) -> str:
        last = self.plan.last
        detail = last.detail if last is not None else ""
        return f"{self.plan.status.value}: {detail}" if detail else self.plan.status.value


class CalendarGateway:
    def __init__(
        self,
        client: CalendarClient,
        clock: Clock,
        rng: random.Random,
        policy: RetryPolicy,
        breaker: CircuitBreaker | None,
        metrics: ServiceMetrics,
    ) -> None:
        self.client = client
        self.clock = clock
        self.rng = rng
        self.policy = policy
        self.breaker = breaker
        self.metrics = metrics

    async def create_event(
        self, spec: EventSpec, deadline: Deadline | None, policy: RetryPolicy | None = None
    ) -> GatewayResult:
        return await self._run(
            "create", lambda step: self.client.create_event(spec, step.timeout_s), deadline, policy
        )

    async def delete_event(
        self,
        event_id: str,
        key: str | None,
        deadline: Deadline | None,
        policy: RetryPolicy | None = None,
    ) -> GatewayResult:
        return await self._run(
            "delete",
            lambda step: self.client.delete_event(event_id, key, step.timeout_s),
            deadline,
            policy,
        )

    async def _run(
        self,
        operation: str,
        call: Any,
        deadline: Deadline | None,
        policy: RetryPolicy | None,
    ) -> GatewayResult:
        last_body: dict[str, Any] | None = None

        async def attempt(step: Attempt) -> Outcome:
            nonlocal last_body
            result: CallResult = await call(step)
            last_body = result.body
            self.metrics.calendar_calls.labels(operation, result.outcome.kind.value).inc()
            if not result.outcome.ok:
                log.info(
                    "calendar attempt failed",
                    extra={
                        "operation": operation,
                        "attempt": step.number,
                        "outcome": result.outcome.kind.value,
                        "detail": result.outcome.detail,
                    },
                )
            return result.outcome

        plan = retry_plan(policy or self.policy, self.rng, self.clock.now(), deadline, self.breaker)
        result = await run_plan(plan, attempt, self.clock)
        self.metrics.retries.inc(result.retries)
        if result.status is PlanStatus.BREAKER_OPEN:
            self.metrics.breaker_short_circuits.labels(operation).inc()
        self.metrics.observe_breaker(self.breaker, self.clock.now())
        return GatewayResult(result, last_body if result.status is PlanStatus.SUCCEEDED else None)
