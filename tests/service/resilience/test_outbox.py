"""Outbox rules: the 1-2-4-8-16 s schedule, dead letters after 5 attempts or a permanent error,
the compensation that follows, and when a row is due."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from service.resilience.outbox import (
    Compensation,
    OutboxAction,
    OutboxDecision,
    OutboxPolicy,
    after_attempt,
    compensation_for,
    first_attempt_at,
    is_due,
)
from service.resilience.retry_plan import PlanStatus

NOT_DONE = [
    PlanStatus.AMBIGUOUS,
    PlanStatus.EXHAUSTED,
    PlanStatus.DEADLINE,
    PlanStatus.BREAKER_OPEN,
]


def test_a_row_that_keeps_failing_waits_1_2_4_8_16_then_is_dead_lettered() -> None:
    policy = OutboxPolicy()
    written_at = 1000.0
    due_at = first_attempt_at(written_at, policy)
    attempt_times: list[float] = []
    decision = None
    for attempts_done in range(1, 10):
        now = due_at  # the relay picks the row up the moment it is due
        attempt_times.append(now)
        decision = after_attempt(attempts_done, PlanStatus.EXHAUSTED, now, policy, False)
        if decision.action is OutboxAction.DEAD_LETTER:
            break
        assert decision.action is OutboxAction.RETRY_LATER
        assert decision.next_attempt_at is not None
        due_at = decision.next_attempt_at

    gaps = [b - a for a, b in zip([written_at, *attempt_times], attempt_times, strict=False)]
    assert gaps == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert decision == OutboxDecision(
        OutboxAction.DEAD_LETTER,
        None,
        (Compensation.MARK_FAILED, Compensation.RELEASE_SLOT),
    )


@pytest.mark.parametrize("status", NOT_DONE, ids=lambda s: s.value)
def test_any_unfinished_attempt_is_retried_on_schedule(status: PlanStatus) -> None:
    decision = after_attempt(2, status, 50.0, OutboxPolicy(), provider_event_may_exist=True)

    assert decision == OutboxDecision(OutboxAction.RETRY_LATER, 54.0)


@pytest.mark.parametrize("status", NOT_DONE, ids=lambda s: s.value)
def test_the_fifth_unfinished_attempt_dead_letters(status: PlanStatus) -> None:
    decision = after_attempt(5, status, 50.0, OutboxPolicy(), provider_event_may_exist=False)

    assert decision.action is OutboxAction.DEAD_LETTER
    assert decision.next_attempt_at is None


@pytest.mark.parametrize("attempts_done", [1, 5, 9])
def test_success_confirms_with_nothing_to_compensate(attempts_done: int) -> None:
    decision = after_attempt(attempts_done, PlanStatus.SUCCEEDED, 9.0, OutboxPolicy(), True)

    assert decision == OutboxDecision(OutboxAction.CONFIRM, None, ())


def test_a_permanent_error_dead_letters_on_the_first_attempt() -> None:
    decision = after_attempt(1, PlanStatus.PERMANENT, 9.0, OutboxPolicy(), False)

    assert decision.action is OutboxAction.DEAD_LETTER
    assert decision.next_attempt_at is None
    assert decision.compensation == (Compensation.MARK_FAILED, Compensation.RELEASE_SLOT)


def test_a_dead_letter_deletes_the_provider_event_when_one_may_exist() -> None:
    # e.g. an earlier attempt timed out after the request was sent, then the provider refused
    decision = after_attempt(2, PlanStatus.PERMANENT, 9.0, OutboxPolicy(), True)

    assert decision.compensation == (
        Compensation.MARK_FAILED,
        Compensation.RELEASE_SLOT,
        Compensation.DELETE_PROVIDER_EVENT,
    )


def test_compensation_deletes_only_when_an_event_may_exist() -> None:
    assert Compensation.DELETE_PROVIDER_EVENT in compensation_for(True)
    assert Compensation.DELETE_PROVIDER_EVENT not in compensation_for(False)
    assert compensation_for(False) == (Compensation.MARK_FAILED, Compensation.RELEASE_SLOT)


@pytest.mark.parametrize(
    ("next_attempt_at", "now", "dead_lettered", "due"),
    [
        (10.0, 9.5, False, False),
        (10.0, 10.0, False, True),
        (10.0, 11.0, False, True),
        (10.0, 11.0, True, False),  # a dead letter is never picked up again
        (10.0, 9.5, True, False),
    ],
)
def test_is_due(next_attempt_at: float, now: float, dead_lettered: bool, due: bool) -> None:
    assert is_due(next_attempt_at, now, dead_lettered) is due


def test_the_last_step_of_a_short_schedule_repeats() -> None:
    policy = OutboxPolicy(schedule_s=(0.5, 3.0), max_attempts=4)

    delays = [policy.delay_before(n) for n in range(0, 6)]

    assert delays == [0.5, 0.5, 3.0, 3.0, 3.0, 3.0]
    assert after_attempt(3, PlanStatus.EXHAUSTED, 0.0, policy, False).next_attempt_at == 3.0
    assert after_attempt(4, PlanStatus.EXHAUSTED, 0.0, policy, False).action is (
        OutboxAction.DEAD_LETTER
    )


@pytest.mark.parametrize(
    ("kwargs", "mentions"),
    [
        ({"max_attempts": 0}, "max_attempts must be >= 1"),
        ({"schedule_s": ()}, "schedule_s must be non-empty"),
        ({"schedule_s": (1.0, -2.0)}, r"schedule_s .* >= 0"),
    ],
)
def test_policy_validation(kwargs: dict[str, object], mentions: str) -> None:
    with pytest.raises(ValueError, match=mentions):
        OutboxPolicy(**kwargs)  # type: ignore[arg-type]


@dataclass
class RelayedRow:
    next_attempt_at: float
    tried_at: list[float]  # when it was written, then when each attempt ran
    last_status: PlanStatus | None = None
    action: OutboxAction = OutboxAction.RETRY_LATER

    @property
    def attempts(self) -> int:
        return len(self.tried_at) - 1


# One relay attempt's result per row; mostly failures, so that rows reach their last attempt.
relay_results = st.lists(
    st.sampled_from(
        [PlanStatus.EXHAUSTED, PlanStatus.DEADLINE, PlanStatus.AMBIGUOUS] * 2
        + [PlanStatus.BREAKER_OPEN, PlanStatus.SUCCEEDED, PlanStatus.PERMANENT]
    ),
    min_size=3,
    max_size=3,
)


class OutboxRelayMachine(RuleBasedStateMachine):
    """A relay over a few rows: rows are written, time passes (often straight to the next due
    row, as the relay sleeps until then), and each tick attempts every due row with arbitrary
    results.

    Invariants: no row is attempted more than max_attempts times, nor before its step of the
    schedule has passed; a success confirms a row; a permanent error or a failed last attempt
    dead-letters it; anything else schedules the next attempt by the schedule."""

    def __init__(self) -> None:
        super().__init__()
        self.policy = OutboxPolicy()
        self.now = 0.0
        self.rows: list[RelayedRow] = []

    @initialize()
    def write_first_row(self) -> None:
        self.write_row()

    @precondition(lambda self: len(self.rows) < 3)
    @rule()
    def write_row(self) -> None:
        self.rows.append(RelayedRow(first_attempt_at(self.now, self.policy), [self.now]))

    @rule(seconds=st.sampled_from([0.5, 1.0, 3.0, 20.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule(statuses=relay_results, may_exist=st.booleans())
    def relay_ticks_now(self, statuses: list[PlanStatus], may_exist: bool) -> None:
        self._tick(statuses, may_exist)

    @rule(statuses=relay_results, may_exist=st.booleans())
    def relay_sleeps_until_a_row_is_due_then_ticks(
        self, statuses: list[PlanStatus], may_exist: bool
    ) -> None:
        pending = [r.next_attempt_at for r in self.rows if r.action is OutboxAction.RETRY_LATER]
        if pending:
            self.now = max(self.now, min(pending))
        self._tick(statuses, may_exist)

    def _tick(self, statuses: list[PlanStatus], may_exist: bool) -> None:
        for row, status in zip(self.rows, statuses, strict=False):
            dead = row.action is OutboxAction.DEAD_LETTER
            if row.action is OutboxAction.CONFIRM or not is_due(
                row.next_attempt_at, self.now, dead
            ):
                continue
            assert self.now - row.tried_at[-1] >= self.policy.delay_before(row.attempts + 1)
            row.tried_at.append(self.now)
            row.last_status = status
            decision = after_attempt(row.attempts, status, self.now, self.policy, may_exist)
            row.action = decision.action
            if decision.action is OutboxAction.DEAD_LETTER:
                assert (Compensation.DELETE_PROVIDER_EVENT in decision.compensation) is may_exist
            if decision.action is OutboxAction.RETRY_LATER:
                assert decision.next_attempt_at is not None
                row.next_attempt_at = decision.next_attempt_at

    @invariant()
    def every_row_is_where_its_history_puts_it(self) -> None:
        for row in self.rows:
            assert row.attempts <= self.policy.max_attempts
            if row.last_status is PlanStatus.SUCCEEDED:
                assert row.action is OutboxAction.CONFIRM
            elif (
                row.last_status is PlanStatus.PERMANENT or row.attempts == self.policy.max_attempts
            ):
                assert row.action is OutboxAction.DEAD_LETTER
            else:
                assert row.action is OutboxAction.RETRY_LATER
                wait_s = self.policy.delay_before(row.attempts + 1)
                assert row.next_attempt_at == row.tried_at[-1] + wait_s


TestOutboxRelay = OutboxRelayMachine.TestCase
TestOutboxRelay.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)
