"""The retry plan: a generator that yields what to do next and receives what happened.

Pure, in the manner of httpx's `Auth.auth_flow`: the plan yields `Attempt(n, timeout_s)` or
`Sleep(seconds)`; after an Attempt the driver sends the `Outcome` it observed, after a Sleep it sends
the current time (a float). The plan returns a `PlanResult`. Drivers: `service.plan_driver` (asyncio)
and the SimPy twin. With the same policy, seed and outcomes, both see the same attempts and sleeps.

Bounds: at most `max_attempts` attempts AND nothing past the deadline. A circuit breaker, when
given, is asked before each attempt and told each result (a permanent error counts as a success for
the breaker: the provider answered). Ambiguous outcomes (the provider may have committed) are
retried only when `retry_ambiguous` is on, which is safe only when the provider dedupes by key.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass, field
from enum import Enum

from .backoff import BackoffPolicy, compute_backoff
from .breaker import CircuitBreaker
from .deadline import Deadline
from .outcomes import Outcome, OutcomeKind
from .records import record_maker


@dataclass(frozen=True)
class Attempt:
    number: int  # 1-based
    timeout_s: float


@dataclass(frozen=True)
class Sleep:
    seconds: float


class PlanStatus(Enum):
    SUCCEEDED = "succeeded"
    PERMANENT = "permanent"  # the provider refused for good
    AMBIGUOUS = "ambiguous"  # stopped on an outcome that may have committed (no ambiguous retries)
    EXHAUSTED = "exhausted"  # attempts used up on retryable failures
    DEADLINE = "deadline"  # the budget ran out
    BREAKER_OPEN = "breaker_open"  # the breaker refused before an attempt


@dataclass(frozen=True)
class PlanResult:
    status: PlanStatus
    attempts: int
    last: Outcome | None = None
    slept_s: float = 0.0
    ambiguous_seen: bool = False

    @property
    def retries(self) -> int:
        return max(0, self.attempts - 1)

    @property
    def may_have_committed(self) -> bool:
        """Could the provider hold an event from this plan? (It succeeded, or any attempt was
        ambiguous.)"""
        return self.ambiguous_seen or self.status is PlanStatus.SUCCEEDED


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    attempt_timeout_s: float = 0.25
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    retry_ambiguous: bool = True
    min_attempt_timeout_s: float = 0.005  # below this an attempt cannot succeed: stop instead

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"retry max_attempts must be >= 1 (got {self.max_attempts})")
        if self.attempt_timeout_s <= 0:
            raise ValueError(f"retry attempt_timeout_s must be > 0 (got {self.attempt_timeout_s})")
        # 0 would let a deadline clamp an attempt to nothing; above the timeout, a deadline
        # would refuse every attempt however much budget is left.
        if not 0 < self.min_attempt_timeout_s <= self.attempt_timeout_s:
            raise ValueError(
                "retry min_attempt_timeout_s must be > 0 and <= attempt_timeout_s "
                f"(got {self.min_attempt_timeout_s}, {self.attempt_timeout_s})"
            )


# Built per attempt and per plan, in both drivers: made directly (see `records`).
_attempt = record_maker(Attempt)
_sleep = record_maker(Sleep)
_result = record_maker(PlanResult)

Step = Attempt | Sleep
Plan = Generator[Step, "Outcome | float", PlanResult]


def retry_plan(
    policy: RetryPolicy,
    rng: random.Random,
    now: float,
    deadline: Deadline | None = None,
    breaker: CircuitBreaker | None = None,
) -> Plan:
    """Plan the attempts of one call. `now` is when the call starts; `deadline` bounds the whole
    plan (None: attempts alone bound it). See the module docstring for the protocol."""
    attempts = 0
    slept = 0.0
    last: Outcome | None = None
    ambiguous_seen = False
    while True:
        timeout_s = policy.attempt_timeout_s
        if deadline is not None:
            timeout_s = deadline.clamp(timeout_s, now)
            if timeout_s < policy.min_attempt_timeout_s:
                return _result(PlanStatus.DEADLINE, attempts, last, slept, ambiguous_seen)
        if breaker is not None and not breaker.allow(now):
            return _result(PlanStatus.BREAKER_OPEN, attempts, last, slept, ambiguous_seen)
        attempts += 1
        try:
            sent = yield _attempt(attempts, timeout_s)
        except GeneratorExit:
            # The driver dropped the plan mid-attempt (cancelled): no outcome will come.
            if breaker is not None:
                breaker.abandon()
            raise
        outcome = _expect_outcome(sent)
        last = outcome
        now = outcome.now
        if breaker is not None:
            if outcome.kind in (OutcomeKind.OK, OutcomeKind.PERMANENT):
                breaker.record_success(now)
            else:
                breaker.record_failure(now)
        if outcome.kind is OutcomeKind.OK:
            return _result(PlanStatus.SUCCEEDED, attempts, outcome, slept, ambiguous_seen)
        if outcome.kind is OutcomeKind.PERMANENT:
            return _result(PlanStatus.PERMANENT, attempts, outcome, slept, ambiguous_seen)
        if outcome.kind is OutcomeKind.AMBIGUOUS:
            ambiguous_seen = True
            if not policy.retry_ambiguous:
                return _result(PlanStatus.AMBIGUOUS, attempts, outcome, slept, True)
        if attempts >= policy.max_attempts:
            return _result(PlanStatus.EXHAUSTED, attempts, outcome, slept, ambiguous_seen)
        pause = compute_backoff(policy.backoff, attempts, rng, outcome.retry_after_s)
        if deadline is not None and now + pause + policy.min_attempt_timeout_s > deadline.at:
            # Sleeping would leave no time for another attempt: give the budget back now.
            return _result(PlanStatus.DEADLINE, attempts, outcome, slept, ambiguous_seen)
        woke = yield _sleep(pause)
        slept += pause
        now = _expect_time(woke)


def _expect_outcome(sent: object) -> Outcome:
    if not isinstance(sent, Outcome):
        raise TypeError(f"after an Attempt the driver must send an Outcome (got {sent!r})")
    return sent


def _expect_time(sent: object) -> float:
    if isinstance(sent, bool) or not isinstance(sent, int | float):
        raise TypeError(f"after a Sleep the driver must send the current time (got {sent!r})")
    return float(sent)
