"""A scripted provider and a by-hand driver for retry plans, shared by the plan tests.

`drive_by_hand` is the reference driver: it runs a plan on virtual time with no event loop, so the
retry-plan tests can assert on every step, and the driver contract tests (`test_plan_driver.py`)
can check that a real driver produces exactly the same steps. Time only moves when a call takes
`latency_s` or a Sleep is slept; nothing here waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from service.resilience.outcomes import Outcome, OutcomeKind
from service.resilience.retry_plan import Attempt, Plan, PlanResult, Sleep, Step

# A timed step: when the plan asked for it (virtual seconds), and what it asked for.
TimedStep = tuple[float, Step]


@dataclass(frozen=True)
class ScriptedCall:
    """How one provider call ends: after `latency_s`, with `kind` (and a Retry-After hint).

    A call slower than its attempt's timeout is cut off at the timeout and reads as AMBIGUOUS,
    as a read timeout does in the service: the request was sent and may have been acted on.
    """

    kind: OutcomeKind
    latency_s: float = 0.01
    retry_after_s: float | None = None

    def outcome(self, attempt: Attempt, started_at: float) -> Outcome:
        if self.latency_s > attempt.timeout_s:
            return Outcome(OutcomeKind.AMBIGUOUS, started_at + attempt.timeout_s, detail="timeout")
        return Outcome(self.kind, started_at + self.latency_s, self.retry_after_s)


OK = ScriptedCall(OutcomeKind.OK)
RETRYABLE = ScriptedCall(OutcomeKind.RETRYABLE)
PERMANENT = ScriptedCall(OutcomeKind.PERMANENT)
AMBIGUOUS = ScriptedCall(OutcomeKind.AMBIGUOUS)


class ScriptedProvider:
    """Hands out the scripted calls in order; a plan that asks for more fails the test."""

    def __init__(self, script: Iterable[ScriptedCall]) -> None:
        self._calls: Iterator[ScriptedCall] = iter(script)

    def next_call(self, attempt: Attempt) -> ScriptedCall:
        try:
            return next(self._calls)
        except StopIteration:
            raise AssertionError(f"the plan made {attempt} beyond the script") from None


@dataclass(frozen=True)
class Run:
    steps: list[TimedStep]
    result: PlanResult
    ended_at: float

    @property
    def attempts(self) -> list[Attempt]:
        return [step for _, step in self.steps if isinstance(step, Attempt)]

    @property
    def sleeps(self) -> list[float]:
        return [step.seconds for _, step in self.steps if isinstance(step, Sleep)]


def drive_by_hand(
    plan: Plan, script: Iterable[ScriptedCall], start: float, oversleep_s: float = 0.0
) -> Run:
    """Run `plan` against `script` on virtual time starting at `start`. A Sleep wakes
    `oversleep_s` late, as a busy event loop might."""
    provider = ScriptedProvider(script)
    now = start
    steps: list[TimedStep] = []
    try:
        step = next(plan)
        while True:
            steps.append((now, step))
            if isinstance(step, Attempt):
                outcome = provider.next_call(step).outcome(step, now)
                now = outcome.now
                step = plan.send(outcome)
            else:
                now += step.seconds + oversleep_s
                step = plan.send(now)
    except StopIteration as done:
        return Run(steps, done.value, now)
