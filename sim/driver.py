"""The SimPy driver for the pure retry plan (`service.resilience.retry_plan`).

The twin of `service.plan_driver.run_plan`: the same loop, with `yield env.timeout(...)` where the
service awaits its clock. An `Attempt` runs `attempt(step)`, a generator that performs one
provider call in virtual time and returns the `Outcome` it saw; a `Sleep` waits on the
environment and sends the plan `env.now`. With the same policy, seed and outcomes both drivers
take the same attempts and sleeps at the same times (`tests/sim/test_plan_driver_contract.py`).
Time: the environment's; randomness: only the plan's (the caller's `random.Random`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from service.resilience.outcomes import Outcome
from service.resilience.retry_plan import Attempt, Plan, PlanResult, Sleep

AttemptRunner = Callable[[Attempt], Generator[Any, Any, Outcome]]


def run_plan(
    env: simpy.Environment, plan: Plan, attempt: AttemptRunner
) -> Generator[Any, Any, PlanResult]:
    """Drive `plan` to its result: `result = yield from run_plan(env, plan, attempt)`."""
    try:
        step = next(plan)
        while True:
            if type(step) is Attempt:
                outcome = yield from attempt(step)
                step = plan.send(outcome)
            elif type(step) is Sleep:
                yield env.timeout(step.seconds)
                step = plan.send(env.now)
            else:  # pragma: no cover - the plan only yields these two
                raise TypeError(f"unknown plan step {step!r}")
    except StopIteration as done:
        result: PlanResult = done.value
        return result
