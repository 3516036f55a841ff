"""The asyncio driver for the pure retry plan (`service.resilience.retry_plan`).

It runs the plan's steps: an `Attempt` calls `attempt(step)` (which performs one provider call
within `step.timeout_s` and returns the `Outcome` it saw), a `Sleep` awaits the clock. The SimPy twin
has the same loop with `yield env.timeout(...)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from service.clock import Clock
from service.resilience.outcomes import Outcome
from service.resilience.retry_plan import Attempt, Plan, PlanResult, Sleep


async def run_plan(
    plan: Plan,
    attempt: Callable[[Attempt], Awaitable[Outcome]],
    clock: Clock,
) -> PlanResult:
    """Drive `plan` to its result."""
    try:
        step = next(plan)
        while True:
            if isinstance(step, Attempt):
                outcome = await attempt(step)
                step = plan.send(outcome)
            elif isinstance(step, Sleep):
                await clock.sleep(step.seconds)
                step = plan.send(clock.now())
            else:  # pragma: no cover - the plan only yields these two
                raise TypeError(f"unknown plan step {step!r}")
    except StopIteration as done:
        result: PlanResult = done.value
        return result
    finally:
        # Cancelled mid-attempt (a client hung up, a shutdown): let the plan release what it
        # holds, e.g. a half-open breaker's probe slot. A no-op once the plan has finished.
        plan.close()
