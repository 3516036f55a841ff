"""The calendar gateway: each provider operation run as a retry plan behind the breaker.

Owns the policy around the client: `service.resilience.retry_plan` (attempts, backoff with jitter,
Retry-After), the circuit breaker, the deadline, and the metrics of calls, retries and breaker
state. Drives plans with `service.plan_driver.run_plan` on the given clock; jitter comes from the
given `random.Random`. Shared by both drivers: the service gives it the HTTP client and Prometheus
metrics, the twin its modelled client and counters (`service.ports.context`). Must not touch the
database: callers decide what a result means.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from service.calendar.contract import CalendarClient, CallResult, EventSpec
from service.plan_driver import run_plan
from service.resilience.breaker import CircuitBreaker
from service.resilience.deadline import Deadline
from service.resilience.outcomes import Outcome
from service.resilience.records import record_maker
from service.resilience.retry_plan import Attempt, PlanResult, PlanStatus, RetryPolicy, retry_plan

if TYPE_CHECKING:
    from service.clock import Clock
    from service.ports.context import FlowMetrics

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


_gateway_result = record_maker(GatewayResult)  # one per calendar operation, in both drivers


class CalendarGateway:
    def __init__(
        self,
        client: CalendarClient,
        clock: Clock,
        rng: random.Random,
        policy: RetryPolicy,
        breaker: CircuitBreaker | None,
        metrics: FlowMetrics,
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

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]:
        """Every event the provider holds (one call, no retries: the reconciler's next pass is
        the retry); raises on any failure."""
        return await self.client.list_events(timeout_s)

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
            self.metrics.calendar_call(operation, result.outcome.kind.value)
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
        if result.attempts > 1:
            self.metrics.retried(result.attempts - 1)
        if result.status is PlanStatus.BREAKER_OPEN:
            self.metrics.breaker_refused(operation)
        self.metrics.observe_breaker(self.breaker, self.clock.now())
        return _gateway_result(result, last_body if result.status is PlanStatus.SUCCEEDED else None)
