"""Contract tests of the plan drivers: run by a driver, a retry plan takes exactly the steps, at
exactly the times, that it takes when driven by hand.

Each driver runs on a manual clock, so virtual time moves only when a call or a sleep moves it;
nothing waits. The SimPy driver joins as another `driver` param.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable

import pytest

from service.plan_driver import run_plan
from service.resilience.breaker import BreakerConfig, CircuitBreaker
from service.resilience.deadline import Deadline
from service.resilience.outcomes import Outcome, OutcomeKind
from service.resilience.retry_plan import Attempt, Plan, PlanStatus, RetryPolicy, Sleep, retry_plan
from tests.service.resilience.scripted_calls import (
    AMBIGUOUS,
    OK,
    PERMANENT,
    RETRYABLE,
    Run,
    ScriptedCall,
    ScriptedProvider,
    TimedStep,
    drive_by_hand,
)

START = 100.0


class ManualClock:
    """A `service.clock.Clock` whose time moves only when told to; `sleep` returns at once,
    noting each sleep in `log` as it begins."""

    def __init__(self, start: float, log: list[TimedStep]) -> None:
        self._now = start
        self._log = log

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, f"time cannot go back (asked to advance {seconds})"
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self._log.append((self._now, Sleep(seconds)))
        self.advance(seconds)
        await asyncio.sleep(0)  # still a real suspension point, as in the service


async def drive_with_asyncio(plan: Plan, script: Iterable[ScriptedCall], start: float) -> Run:
    steps: list[TimedStep] = []
    clock = ManualClock(start, steps)
    provider = ScriptedProvider(script)

    async def attempt(step: Attempt) -> Outcome:
        started_at = clock.now()
        steps.append((started_at, step))
        outcome = provider.next_call(step).outcome(step, started_at)
        clock.advance(outcome.now - started_at)
        return outcome

    result = await run_plan(plan, attempt, clock)
    return Run(steps, result, clock.now())


Driver = Callable[[Plan, Iterable[ScriptedCall], float], Awaitable[Run]]


@pytest.fixture(params=["asyncio"])
def driver(request: pytest.FixtureRequest) -> Driver:
    drivers: dict[str, Driver] = {"asyncio": drive_with_asyncio}
    return drivers[request.param]


SCENARIOS = {
    "first_try": (RetryPolicy(), None, [OK]),
    "retry_then_success": (RetryPolicy(), None, [RETRYABLE, AMBIGUOUS, OK]),
    "exhausted": (RetryPolicy(max_attempts=4), None, [RETRYABLE] * 4),
    "permanent": (RetryPolicy(), None, [RETRYABLE, PERMANENT]),
    "ambiguous_stops": (RetryPolicy(retry_ambiguous=False), None, [AMBIGUOUS]),
    "retry_after_past_deadline": (
        RetryPolicy(),
        1.0,
        [ScriptedCall(OutcomeKind.RETRYABLE, 0.1, retry_after_s=3.0)],
    ),
    "deadline_clamps_and_stops": (
        RetryPolicy(max_attempts=10, attempt_timeout_s=0.3),
        0.7,
        [ScriptedCall(OutcomeKind.OK, latency_s=1.0)] * 10,  # every attempt times out
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_driver_takes_the_same_steps_as_driving_by_hand(
    driver: Driver, scenario: str
) -> None:
    policy, budget_s, script = SCENARIOS[scenario]

    def plan() -> Plan:
        deadline = None if budget_s is None else Deadline(START, budget_s)
        return retry_plan(policy, random.Random(99), START, deadline)

    by_hand = drive_by_hand(plan(), script, START)
    driven = await driver(plan(), script, START)

    assert driven.steps == by_hand.steps
    assert driven.result == by_hand.result
    assert driven.ended_at == by_hand.ended_at


async def test_a_driver_sleeps_on_its_clock_and_returns_the_plan_result(driver: Driver) -> None:
    policy = RetryPolicy(max_attempts=3)
    plan = retry_plan(policy, random.Random(5), START)

    run = await driver(plan, [RETRYABLE, RETRYABLE, OK], START)

    assert [type(step) for _, step in run.steps] == [Attempt, Sleep, Attempt, Sleep, Attempt]
    assert run.result.status is PlanStatus.SUCCEEDED
    assert run.result.slept_s == pytest.approx(sum(run.sleeps))
    assert run.ended_at == pytest.approx(START + 3 * 0.01 + sum(run.sleeps))


async def test_a_driver_shares_the_breaker_with_the_plan(driver: Driver) -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=2))
    plan = retry_plan(RetryPolicy(max_attempts=5), random.Random(5), START, breaker=breaker)

    run = await driver(plan, [RETRYABLE, RETRYABLE], START)

    assert run.result.status is PlanStatus.BREAKER_OPEN
    assert breaker.open_count == 1


async def test_a_plan_that_never_attempts_returns_without_calling(driver: Driver) -> None:
    plan = retry_plan(RetryPolicy(), random.Random(5), START, Deadline(START, 0.0))

    run = await driver(plan, [], START)

    assert run.steps == []
    assert run.result.status is PlanStatus.DEADLINE


async def test_a_cancelled_attempt_gives_the_half_open_probe_back() -> None:
    # A client that hangs up mid-call cancels the request's task; the breaker must not keep the
    # probe slot forever (it would refuse every later call while HALF_OPEN).
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1, cooldown_s=1.0))
    breaker.record_failure(0.0)
    clock = ManualClock(2.0, [])
    started = asyncio.Event()

    async def hang(step: Attempt) -> Outcome:
        started.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    plan = retry_plan(RetryPolicy(), random.Random(1), clock.now(), None, breaker)
    task = asyncio.create_task(run_plan(plan, hang, clock))
    await started.wait()
    assert not breaker.allow(2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.allow(2.0)
