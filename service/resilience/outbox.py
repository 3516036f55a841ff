"""Outbox rules: when a row is due, when it is dead-lettered, and what compensation follows.

Pure: `now` from the caller. The default schedule is seed 003's 1-2-4-8-16 s with 5 attempts:
the first relay attempt waits `schedule_s[0]` after the row is written, attempt k+1 waits
`schedule_s[k]` after attempt k failed, and a failure of the last attempt dead-letters the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .retry_plan import PlanStatus


class OutboxAction(Enum):
    CONFIRM = "confirm"
    RETRY_LATER = "retry_later"
    DEAD_LETTER = "dead_letter"


class Compensation(Enum):
    MARK_FAILED = "mark_failed"
    RELEASE_SLOT = "release_slot"
    DELETE_PROVIDER_EVENT = "delete_provider_event"


@dataclass(frozen=True)
class OutboxPolicy:
    schedule_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"outbox max_attempts must be >= 1 (got {self.max_attempts})")
        if not self.schedule_s or any(s < 0 for s in self.schedule_s):
            raise ValueError(
                f"outbox schedule_s must be non-empty and >= 0 (got {self.schedule_s})"
            )

    def delay_before(self, attempt_number: int) -> float:
        """Wait before relay attempt `attempt_number` (1-based); the schedule's last step repeats."""
        index = min(attempt_number - 1, len(self.schedule_s) - 1)
        return self.schedule_s[max(0, index)]


@dataclass(frozen=True)
class OutboxDecision:
    action: OutboxAction
    next_attempt_at: float | None = None
    compensation: tuple[Compensation, ...] = ()


def first_attempt_at(now: float, policy: OutboxPolicy) -> float:
    """When a freshly written row first becomes due."""
    return now + policy.delay_before(1)


def is_due(next_attempt_at: float, now: float, dead_lettered: bool) -> bool:
    return not dead_lettered and now >= next_attempt_at


def compensation_for(provider_event_may_exist: bool) -> tuple[Compensation, ...]:
    """What undoing a booking takes: mark it FAILED, free its slot, and delete the provider event
    if one may have been created (an ambiguous attempt may have committed)."""
    steps: tuple[Compensation, ...] = (Compensation.MARK_FAILED, Compensation.RELEASE_SLOT)
    if provider_event_may_exist:
        steps += (Compensation.DELETE_PROVIDER_EVENT,)
    return steps


def after_attempt(
    attempts_done: int,
    status: PlanStatus,
    now: float,
    policy: OutboxPolicy,
    provider_event_may_exist: bool,
) -> OutboxDecision:
    """Decide a row's fate after relay attempt number `attempts_done` ended with `status`."""
    if status is PlanStatus.SUCCEEDED:
        return OutboxDecision(OutboxAction.CONFIRM)
    if status is PlanStatus.PERMANENT or attempts_done >= policy.max_attempts:
        return OutboxDecision(
            OutboxAction.DEAD_LETTER, None, compensation_for(provider_event_may_exist)
        )
    return OutboxDecision(OutboxAction.RETRY_LATER, now + policy.delay_before(attempts_done + 1))
