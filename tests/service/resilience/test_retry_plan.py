"""The retry plan, driven by hand with scripted outcomes: when it retries, sleeps, stops, and what
it tells the breaker; and, for any outcomes at all, that it keeps within its attempts and deadline.
"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.resilience.backoff import BackoffPolicy, compute_backoff
from service.resilience.breaker import BreakerConfig, BreakerState, CircuitBreaker
from service.resilience.deadline import Deadline
from service.resilience.outcomes import Outcome, OutcomeKind
from service.resilience.retry_plan import (
    Attempt,
    PlanResult,
    PlanStatus,
    RetryPolicy,
    Sleep,
    retry_plan,
)

from .scripted_calls import (
    AMBIGUOUS,
    OK,
    PERMANENT,
    RETRYABLE,
    ScriptedCall,
    drive_by_hand,
)

SEED = 2024
POLICY = RetryPolicy()  # 3 attempts of 0.25 s, 0.05 s doubling backoff capped at 2 s
# No jitter: the sleep is exactly the Retry-After hint, so deadline arithmetic is exact.
HINTS_ONLY = BackoffPolicy(base_s=0.0, cap_s=0.0)


def _hinted(kind: OutcomeKind, retry_after_s: float, latency_s: float = 0.01) -> ScriptedCall:
    return ScriptedCall(kind, latency_s, retry_after_s)


def _expected_sleeps(policy: RetryPolicy, seed: int, count: int) -> list[float]:
    rng = random.Random(seed)
    return [compute_backoff(policy.backoff, n, rng) for n in range(1, count + 1)]


# -- how a plan ends -----------------------------------------------------------------------


def test_success_on_the_first_try() -> None:
    run = drive_by_hand(retry_plan(POLICY, random.Random(SEED), now=0.0), [OK], start=0.0)

    assert run.steps == [(0.0, Attempt(1, 0.25))]
    assert run.result == PlanResult(PlanStatus.SUCCEEDED, 1, Outcome(OutcomeKind.OK, 0.01))
    assert run.result.retries == 0
    assert run.result.may_have_committed


def test_a_retryable_failure_sleeps_a_backoff_then_succeeds() -> None:
    run = drive_by_hand(
        retry_plan(POLICY, random.Random(SEED), now=0.0), [RETRYABLE, OK], start=0.0
    )

    [pause] = _expected_sleeps(POLICY, SEED, 1)
    assert 0.0 <= pause <= POLICY.backoff.base_s
    assert run.steps == [
        (0.0, Attempt(1, 0.25)),
        (0.01, Sleep(pause)),
        (0.01 + pause, Attempt(2, 0.25)),
    ]
    assert run.result.status is PlanStatus.SUCCEEDED
    assert (run.result.attempts, run.result.retries, run.result.slept_s) == (2, 1, pause)
    assert not run.result.ambiguous_seen


def test_retryable_failures_exhaust_max_attempts() -> None:
    run = drive_by_hand(
        retry_plan(POLICY, random.Random(SEED), now=0.0), [RETRYABLE] * 3, start=0.0
    )

    assert [a.number for a in run.attempts] == [1, 2, 3]
    assert run.sleeps == _expected_sleeps(POLICY, SEED, 2)
    assert isinstance(run.steps[-1][1], Attempt)  # no pointless sleep after the last attempt
    assert run.result.status is PlanStatus.EXHAUSTED
    assert run.result.last is not None and run.result.last.now == run.ended_at
    assert not run.result.may_have_committed


def test_a_single_attempt_policy_never_sleeps() -> None:
    policy = RetryPolicy(max_attempts=1)

    run = drive_by_hand(retry_plan(policy, random.Random(SEED), now=0.0), [RETRYABLE], start=0.0)

    assert run.result.status is PlanStatus.EXHAUSTED
    assert run.sleeps == []


def test_a_permanent_error_stops_at_once() -> None:
    run = drive_by_hand(retry_plan(POLICY, random.Random(SEED), now=0.0), [PERMANENT], start=0.0)

    assert len(run.steps) == 1
    assert run.result.status is PlanStatus.PERMANENT
    assert not run.result.may_have_committed


def test_ambiguous_without_ambiguous_retries_stops_as_ambiguous() -> None:
    policy = RetryPolicy(retry_ambiguous=False)

    run = drive_by_hand(retry_plan(policy, random.Random(SEED), now=0.0), [AMBIGUOUS], start=0.0)

    assert len(run.steps) == 1
    assert run.result.status is PlanStatus.AMBIGUOUS
    assert run.result.ambiguous_seen
    assert run.result.may_have_committed  # the provider may hold the event: compensate


def test_ambiguous_with_ambiguous_retries_retries_and_remembers() -> None:
    run = drive_by_hand(
        retry_plan(POLICY, random.Random(SEED), now=0.0), [AMBIGUOUS, PERMANENT], start=0.0
    )

    assert len(run.attempts) == 2
    assert len(run.sleeps) == 1
    assert run.result.status is PlanStatus.PERMANENT
    assert run.result.ambiguous_seen
    assert run.result.may_have_committed  # the first attempt may have created the event


def test_a_timed_out_attempt_counts_as_ambiguous() -> None:
    slow = ScriptedCall(OutcomeKind.OK, latency_s=1.0)
    policy = RetryPolicy(retry_ambiguous=False)

    run = drive_by_hand(retry_plan(policy, random.Random(SEED), now=0.0), [slow], start=0.0)

    assert run.result.status is PlanStatus.AMBIGUOUS
    assert run.ended_at == 0.25


# -- the deadline --------------------------------------------------------------------------


def test_the_deadline_clamps_an_attempt_timeout_to_what_is_left() -> None:
    policy = RetryPolicy(attempt_timeout_s=0.25, backoff=HINTS_ONLY)
    deadline = Deadline(start=10.0, budget_s=0.5)
    script = [_hinted(OutcomeKind.RETRYABLE, 0.125, latency_s=0.25), OK]

    run = drive_by_hand(retry_plan(policy, random.Random(SEED), 10.0, deadline), script, 10.0)

    assert run.steps == [
        (10.0, Attempt(1, 0.25)),
        (10.25, Sleep(0.125)),
        (10.375, Attempt(2, 0.125)),  # 0.125 s left, not the full 0.25 s
    ]
    assert run.result.status is PlanStatus.SUCCEEDED


def test_a_sleep_that_would_cross_the_deadline_is_not_taken() -> None:
    policy = RetryPolicy(backoff=HINTS_ONLY)
    deadline = Deadline(start=0.0, budget_s=1.0)
    script = [_hinted(OutcomeKind.RETRYABLE, 1.5)]

    run = drive_by_hand(retry_plan(policy, random.Random(SEED), 0.0, deadline), script, 0.0)

    assert run.sleeps == []
    assert run.result.status is PlanStatus.DEADLINE
    assert run.result.attempts == 1
    assert run.ended_at == 0.01  # the budget is given back at once, not slept away


@pytest.mark.parametrize(
    ("retry_after_s", "status", "attempts"),
    [
        (0.375, PlanStatus.SUCCEEDED, 2),  # wakes with exactly the minimum attempt left
        (0.376, PlanStatus.DEADLINE, 1),  # would wake with less than the minimum
    ],
)
def test_a_sleep_must_leave_room_for_the_minimum_attempt(
    retry_after_s: float, status: PlanStatus, attempts: int
) -> None:
    policy = RetryPolicy(attempt_timeout_s=0.5, backoff=HINTS_ONLY, min_attempt_timeout_s=0.125)
    deadline = Deadline(start=0.0, budget_s=1.0)
    script = [_hinted(OutcomeKind.RETRYABLE, retry_after_s, latency_s=0.5), OK]

    run = drive_by_hand(retry_plan(policy, random.Random(SEED), 0.0, deadline), script, 0.0)

    assert run.result.status is status
    assert run.result.attempts == attempts
    if attempts == 2:
        assert run.attempts[1] == Attempt(2, 0.125)


def test_retry_after_longer_than_the_remaining_budget_gives_up_with_deadline() -> None:
    deadline = Deadline(start=0.0, budget_s=2.0)
    script = [_hinted(OutcomeKind.RETRYABLE, 5.0)]  # 429 with Retry-After: 5

    run = drive_by_hand(retry_plan(POLICY, random.Random(SEED), 0.0, deadline), script, 0.0)

    assert run.result.status is PlanStatus.DEADLINE
    assert run.sleeps == []


def test_retry_after_is_slept_in_full_when_there_is_no_deadline() -> None:
    script = [_hinted(OutcomeKind.RETRYABLE, 5.0), OK]

    run = drive_by_hand(retry_plan(POLICY, random.Random(SEED), 0.0), script, 0.0)

    assert run.sleeps == [5.0]
    assert run.result.status is PlanStatus.SUCCEEDED


def test_an_oversleep_past_the_deadline_makes_no_further_attempt() -> None:
    deadline = Deadline(start=0.0, budget_s=1.0)
    plan = retry_plan(POLICY, random.Random(SEED), 0.0, deadline)

    run = drive_by_hand(plan, [RETRYABLE, OK], 0.0, oversleep_s=5.0)

    assert len(run.attempts) == 1
    assert run.result.status is PlanStatus.DEADLINE
    assert run.result.slept_s == run.sleeps[0]


def test_an_expired_deadline_makes_no_attempt_at_all() -> None:
    deadline = Deadline(start=0.0, budget_s=1.0)

    run = drive_by_hand(retry_plan(POLICY, random.Random(SEED), 1.0, deadline), [], 1.0)

    assert run.steps == []
    assert run.result == PlanResult(PlanStatus.DEADLINE, 0)


def test_an_expired_deadline_does_not_take_a_half_open_probe_slot() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1, cooldown_s=1.0))
    breaker.record_failure(0.0)
    deadline = Deadline(start=0.0, budget_s=2.0)

    drive_by_hand(retry_plan(POLICY, random.Random(SEED), 2.0, deadline, breaker), [], 2.0)

    assert breaker.allow(2.0)  # the probe slot is still free for a call that can use it


# -- the breaker ---------------------------------------------------------------------------


def test_an_open_breaker_refuses_before_any_attempt() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1))
    breaker.record_failure(0.0)

    run = drive_by_hand(retry_plan(POLICY, random.Random(SEED), 1.0, breaker=breaker), [], 1.0)

    assert run.steps == []
    assert run.result == PlanResult(PlanStatus.BREAKER_OPEN, 0)


def test_a_breaker_that_opens_mid_plan_stops_the_retries() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=2))
    plan = retry_plan(RetryPolicy(max_attempts=5), random.Random(SEED), 0.0, breaker=breaker)

    run = drive_by_hand(plan, [RETRYABLE, RETRYABLE], 0.0)

    assert run.result.status is PlanStatus.BREAKER_OPEN
    assert run.result.attempts == 2
    assert len(run.sleeps) == 2  # it slept, then found the breaker open


class RecordingBreaker(CircuitBreaker):
    def __init__(self) -> None:
        super().__init__(BreakerConfig(consecutive_failures=10))
        self.told: list[tuple[str, float]] = []

    def record_success(self, now: float) -> None:
        self.told.append(("success", now))
        super().record_success(now)

    def record_failure(self, now: float) -> None:
        self.told.append(("failure", now))
        super().record_failure(now)


@pytest.mark.parametrize(
    ("kind", "told"),
    [
        (OutcomeKind.OK, "success"),
        (OutcomeKind.PERMANENT, "success"),  # the provider answered: it is up
        (OutcomeKind.RETRYABLE, "failure"),
        (OutcomeKind.AMBIGUOUS, "failure"),
    ],
)
def test_the_breaker_is_told_each_result_at_the_time_it_was_seen(
    kind: OutcomeKind, told: str
) -> None:
    breaker = RecordingBreaker()
    policy = RetryPolicy(max_attempts=1)

    drive_by_hand(
        retry_plan(policy, random.Random(SEED), 0.0, breaker=breaker),
        [ScriptedCall(kind, 0.125)],
        0.0,
    )

    assert breaker.told == [(told, 0.125)]


def test_permanent_errors_do_not_open_the_breaker() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1))

    for start in range(3):
        plan = retry_plan(POLICY, random.Random(SEED), float(start), breaker=breaker)
        assert drive_by_hand(plan, [PERMANENT], float(start)).result.status is PlanStatus.PERMANENT

    assert breaker.state(3.0) is BreakerState.CLOSED


# -- the protocol with the driver ----------------------------------------------------------


@pytest.mark.parametrize("wrong", [0.5, None, "ok", OutcomeKind.OK])
def test_sending_anything_but_an_outcome_after_an_attempt_is_a_type_error(wrong: object) -> None:
    plan = retry_plan(POLICY, random.Random(SEED), 0.0)
    assert isinstance(next(plan), Attempt)

    with pytest.raises(TypeError, match="after an Attempt the driver must send an Outcome"):
        plan.send(wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize("wrong", [Outcome(OutcomeKind.OK, 1.0), None, "1.0", True], ids=repr)
def test_sending_anything_but_a_time_after_a_sleep_is_a_type_error(wrong: object) -> None:
    plan = retry_plan(POLICY, random.Random(SEED), 0.0)
    next(plan)
    assert isinstance(plan.send(Outcome(OutcomeKind.RETRYABLE, 0.1)), Sleep)

    with pytest.raises(TypeError, match="after a Sleep the driver must send the current time"):
        plan.send(wrong)  # type: ignore[arg-type]


def test_an_integer_time_after_a_sleep_is_accepted() -> None:
    plan = retry_plan(POLICY, random.Random(SEED), 0.0)
    next(plan)
    plan.send(Outcome(OutcomeKind.RETRYABLE, 0.1))

    assert plan.send(1) == Attempt(2, 0.25)


# -- determinism ---------------------------------------------------------------------------

SCRIPT = [RETRYABLE, AMBIGUOUS, _hinted(OutcomeKind.RETRYABLE, 0.001), RETRYABLE, OK]


def _run(seed: int) -> list[tuple[float, Attempt | Sleep]]:
    policy = RetryPolicy(max_attempts=5)
    return drive_by_hand(retry_plan(policy, random.Random(seed), 0.0), SCRIPT, 0.0).steps


def test_the_same_plan_and_seed_yield_the_same_steps() -> None:
    assert _run(7) == _run(7)


def test_a_different_seed_yields_different_sleeps() -> None:
    def sleeps(steps: list[tuple[float, Attempt | Sleep]]) -> list[Attempt | Sleep]:
        return [step for _, step in steps if isinstance(step, Sleep)]

    assert len(sleeps(_run(7))) == 4
    assert sleeps(_run(7)) != sleeps(_run(8))


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "mentions"),
    [
        ({"max_attempts": 0}, "max_attempts must be >= 1"),
        ({"attempt_timeout_s": 0.0}, "attempt_timeout_s must be > 0"),
        ({"attempt_timeout_s": -1.0}, "attempt_timeout_s must be > 0"),
        ({"min_attempt_timeout_s": 0.0}, "min_attempt_timeout_s must be > 0"),
        (
            {"attempt_timeout_s": 0.001},
            r"min_attempt_timeout_s must be > 0 and <= attempt_timeout_s",
        ),
    ],
)
def test_policy_validation(kwargs: dict[str, float], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_retries_of_a_plan_that_made_no_attempt_is_zero() -> None:
    assert PlanResult(PlanStatus.BREAKER_OPEN, 0).retries == 0


# -- any outcomes at all -------------------------------------------------------------------

calls = st.builds(
    ScriptedCall,
    kind=st.sampled_from(list(OutcomeKind)),
    latency_s=st.floats(0.0, 1.5),
    retry_after_s=st.none() | st.floats(0.0, 3.0),
)
retry_policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 6),
    attempt_timeout_s=st.floats(0.005, 1.0),
    backoff=st.builds(
        BackoffPolicy,
        base_s=st.floats(0.0, 0.5),
        cap_s=st.floats(0.0, 2.0),
        multiplier=st.floats(1.0, 4.0),
    ),
    retry_ambiguous=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(
    policy=retry_policies,
    script=st.lists(calls, min_size=6, max_size=6),
    seed=st.integers(0, 2**32),
    start=st.floats(0.0, 1e5),
    budget_s=st.none() | st.floats(0.0, 4.0),
    oversleep_s=st.sampled_from([0.0, 0.0, 0.01, 0.5]),
    breaker_trips_after=st.none() | st.integers(1, 4),
)
def test_any_outcomes_stay_within_attempts_and_deadline(
    policy: RetryPolicy,
    script: list[ScriptedCall],
    seed: int,
    start: float,
    budget_s: float | None,
    oversleep_s: float,
    breaker_trips_after: int | None,
) -> None:
    deadline = None if budget_s is None else Deadline(start, budget_s)
    breaker = None
    if breaker_trips_after is not None:
        breaker = CircuitBreaker(BreakerConfig(consecutive_failures=breaker_trips_after))

    plan = retry_plan(policy, random.Random(seed), start, deadline, breaker)
    run = drive_by_hand(plan, script, start, oversleep_s)

    result = run.result
    assert result.attempts == len(run.attempts) <= policy.max_attempts
    assert [a.number for a in run.attempts] == list(range(1, result.attempts + 1))
    assert math.isclose(result.slept_s, sum(run.sleeps))
    # Sleeps only ever sit between two attempts.
    kinds = [type(step) for _, step in run.steps]
    assert kinds[:1] in ([], [Attempt])
    assert all(not (a is Sleep and b is Sleep) for a, b in zip(kinds, kinds[1:], strict=False))
    assert all(0.0 < a.timeout_s <= policy.attempt_timeout_s for a in run.attempts)
    if deadline is not None:
        # start + (at - start) can round one ulp past `at`; a few ulps are not a missed deadline.
        at_the_latest = deadline.at + 4 * math.ulp(deadline.at)
        for at, step in run.steps:
            if isinstance(step, Attempt):
                assert step.timeout_s >= policy.min_attempt_timeout_s
                assert at + step.timeout_s <= at_the_latest
        if oversleep_s == 0.0:
            # Every sleep and every attempt ran inside the budget.
            assert run.ended_at <= at_the_latest
    if result.status is PlanStatus.EXHAUSTED:
        assert result.attempts == policy.max_attempts
    final_kind = {
        PlanStatus.SUCCEEDED: OutcomeKind.OK,
        PlanStatus.PERMANENT: OutcomeKind.PERMANENT,
        PlanStatus.AMBIGUOUS: OutcomeKind.AMBIGUOUS,
    }
    if result.status in final_kind:
        assert result.last is not None
        assert result.last.kind is final_kind[result.status]
    if result.status is PlanStatus.AMBIGUOUS:
        assert not policy.retry_ambiguous
    assert result.ambiguous_seen is any(
        call.outcome(attempt, at).kind is OutcomeKind.AMBIGUOUS
        for call, (at, attempt) in zip(
            script, [(t, s) for t, s in run.steps if isinstance(s, Attempt)], strict=False
        )
    )


def test_closing_a_plan_mid_attempt_releases_the_half_open_probe() -> None:
    breaker = CircuitBreaker(BreakerConfig(consecutive_failures=1, cooldown_s=1.0))
    breaker.record_failure(0.0)
    plan = retry_plan(RetryPolicy(), random.Random(1), 2.0, None, breaker)
    assert isinstance(next(plan), Attempt)  # took the only probe slot
    assert not breaker.allow(2.0)
    plan.close()  # the driver was cancelled
    assert breaker.allow(2.0)


def test_closing_a_plan_without_a_breaker_mid_attempt_is_quiet() -> None:
    plan = retry_plan(RetryPolicy(), random.Random(1), 0.0)
    assert isinstance(next(plan), Attempt)
    plan.close()  # no breaker to tell: nothing raises
    with pytest.raises(StopIteration):  # and the plan is over: it takes no outcome any more
        plan.send(Outcome(OutcomeKind.OK, 0.1))
