"""Contract: the service's plan driver (`service.plan_driver.run_plan`) takes exactly the same
attempts and sleeps at exactly the same times for one plan and seed whether asyncio runs it (on a
manual clock) or SimPy does (stepped by `sim.flow_driver.drive` on the twin's clock), and both
match the plan driven by hand.

The scripted provider, the scenarios and the asyncio harness are the service's own
(`tests/service/test_plan_driver.py`, `tests/service/resilience/scripted_calls.py`), so the two
drivers are held to one script.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Generator, Iterable
from typing import Any

import pytest
import simpy

from service.plan_driver import run_plan
from service.resilience.breaker import BreakerConfig, CircuitBreaker
from service.resilience.deadline import Deadline
from service.resilience.outcomes import Outcome
from service.resilience.retry_plan import Attempt, Plan, PlanStatus, RetryPolicy, retry_plan
from sim.flow_driver import drive as drive_flow
from sim.flow_driver import wait
from sim.sim_ports import SimClock
from tests.service.resilience.scripted_calls import (
    OK,
    RETRYABLE,
    Run,
    ScriptedCall,
    ScriptedProvider,
    TimedStep,
    drive_by_hand,
)
from tests.service.test_plan_driver import SCENARIOS, START, drive_with_asyncio


def drive_with_simpy(plan: Plan, script: Iterable[ScriptedCall], start: float) -> Run:
    """Run `plan` in a SimPy environment starting at `start`, the calls taking virtual time."""
    env = simpy.Environment(initial_time=start)
    provider = ScriptedProvider(script)
    steps: list[TimedStep] = []

    async def attempt(step: Attempt) -> Outcome:
        started_at = env.now
        steps.append((started_at, step))
        outcome = provider.next_call(step).outcome(step, started_at)
        await wait(env.timeout(outcome.now - started_at))
        return outcome

    def noting_sleeps(plan: Plan) -> Plan:
        # The asyncio harness notes a Sleep as it begins; note ours the same way.
        step = next(plan)
        while True:
            if not isinstance(step, Attempt):
                steps.append((env.now, step))
            sent = yield step
            try:
                step = plan.send(sent)
            except StopIteration as done:
                return done.value

    result: list[Any] = []

    def main() -> Generator[Any, Any, None]:
        wrapped = noting_sleeps(plan)
        result.append((yield from drive_flow(run_plan(wrapped, attempt, SimClock(env, 0.0)))))

    process = env.process(main())
    env.run(process)
    return Run(steps, result[0], env.now)


def run_asyncio(plan: Plan, script: Iterable[ScriptedCall], start: float) -> Run:
    return asyncio.run(drive_with_asyncio(plan, script, start))


DRIVERS = {"asyncio": run_asyncio, "simpy": drive_with_simpy}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_both_drivers_take_the_same_steps_for_one_plan_and_seed(scenario: str) -> None:
    policy, budget_s, script = SCENARIOS[scenario]

    def plan() -> Plan:
        deadline = None if budget_s is None else Deadline(START, budget_s)
        return retry_plan(policy, random.Random(99), START, deadline)

    by_hand = drive_by_hand(plan(), script, START)
    runs = {name: drive(plan(), script, START) for name, drive in DRIVERS.items()}

    assert runs["simpy"].steps == runs["asyncio"].steps == by_hand.steps
    assert runs["simpy"].result == runs["asyncio"].result == by_hand.result
    assert runs["simpy"].ended_at == runs["asyncio"].ended_at == by_hand.ended_at


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_jittered_sleeps_and_the_breaker_agree_across_drivers(driver: str) -> None:
    """Many retries with full jitter, behind a breaker that trips mid-plan: same draws, same
    trip, in both drivers."""
    script = [RETRYABLE] * 4 + [OK]
    outcomes = {}
    for name, drive in DRIVERS.items():
        breaker = CircuitBreaker(BreakerConfig(consecutive_failures=4, cooldown_s=0.0))
        plan = retry_plan(RetryPolicy(max_attempts=6), random.Random(7), START, breaker=breaker)
        run = drive(plan, script, START)
        outcomes[name] = (run.steps, run.result, breaker.open_count)
    assert outcomes[driver] == outcomes["asyncio"]
    steps, result, opens = outcomes[driver]
    assert opens == 1
    assert result.status in (PlanStatus.SUCCEEDED, PlanStatus.BREAKER_OPEN)
    assert len([s for _, s in steps if not isinstance(s, Attempt)]) >= 3
