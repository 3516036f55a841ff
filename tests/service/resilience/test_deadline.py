"""Deadline arithmetic: when it falls, what is left, and how it clamps an attempt's timeout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.resilience.deadline import Deadline


def test_the_deadline_falls_budget_seconds_after_the_start() -> None:
    assert Deadline(start=100.0, budget_s=2.5).at == 102.5


@pytest.mark.parametrize(
    ("now", "remaining", "expired"),
    [
        (100.0, 2.0, False),
        (101.5, 0.5, False),
        (102.0, 0.0, True),  # at the deadline it has passed: no time is left
        (150.0, 0.0, True),  # never negative, however late
    ],
)
def test_remaining_and_expired(now: float, remaining: float, expired: bool) -> None:
    deadline = Deadline(start=100.0, budget_s=2.0)

    assert deadline.remaining(now) == remaining
    assert deadline.expired(now) is expired


@pytest.mark.parametrize(
    ("timeout_s", "now", "clamped_s"),
    [
        (0.25, 100.0, 0.25),  # plenty of budget: the attempt keeps its own timeout
        (0.25, 101.875, 0.125),  # near the end: only what is left
        (0.25, 102.0, 0.0),
        (0.25, 103.0, 0.0),
    ],
)
def test_clamp_never_reaches_past_the_deadline(
    timeout_s: float, now: float, clamped_s: float
) -> None:
    assert Deadline(start=100.0, budget_s=2.0).clamp(timeout_s, now) == clamped_s


@given(
    start=st.floats(0, 1e6),
    budget_s=st.floats(0, 1e3),
    offset_s=st.floats(-10, 2e3),
    timeout_s=st.floats(0, 10),
)
def test_clamped_timeout_is_within_the_timeout_and_the_remaining_budget(
    start: float, budget_s: float, offset_s: float, timeout_s: float
) -> None:
    deadline = Deadline(start, budget_s)
    now = start + offset_s

    clamped = deadline.clamp(timeout_s, now)

    assert 0.0 <= clamped <= timeout_s
    assert clamped <= deadline.remaining(now)
    assert (clamped == 0.0) or not deadline.expired(now)
