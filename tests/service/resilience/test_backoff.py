"""Backoff: the ceiling grows then caps, full jitter stays in [0, ceiling], Retry-After wins when
longer, and one seed gives one sequence."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.resilience.backoff import BackoffPolicy, backoff_ceiling, compute_backoff

policies = st.builds(
    BackoffPolicy,
    base_s=st.floats(0.0, 10.0),
    cap_s=st.floats(0.0, 60.0),
    multiplier=st.floats(1.0, 1e6),
)


def test_ceiling_doubles_from_base_then_holds_at_cap() -> None:
    policy = BackoffPolicy(base_s=0.1, cap_s=1.0, multiplier=2.0)

    ceilings = [backoff_ceiling(policy, n) for n in range(1, 8)]

    assert ceilings == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_default_policy_caps_at_two_seconds_on_the_seventh_retry() -> None:
    ceilings = [backoff_ceiling(BackoffPolicy(), n) for n in range(1, 8)]

    assert ceilings == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]


@given(policy=policies, retry_number=st.integers(1, 10_000))
def test_ceiling_never_shrinks_and_never_passes_the_cap(
    policy: BackoffPolicy, retry_number: int
) -> None:
    ceiling = backoff_ceiling(policy, retry_number)
    following = backoff_ceiling(policy, retry_number + 1)

    assert 0.0 <= ceiling <= following <= policy.cap_s
    assert backoff_ceiling(policy, 1) == min(policy.base_s, policy.cap_s)


def test_absurd_retry_numbers_and_multipliers_give_the_cap_not_an_overflow() -> None:
    assert backoff_ceiling(BackoffPolicy(cap_s=3.0), 10**9) == 3.0
    assert backoff_ceiling(BackoffPolicy(base_s=0.1, cap_s=3.0, multiplier=1e6), 100) == 3.0
    assert backoff_ceiling(BackoffPolicy(base_s=0.0, cap_s=3.0, multiplier=1e6), 100) == 0.0


@given(policy=policies, retry_number=st.integers(1, 50), seed=st.integers(0, 2**32))
def test_full_jitter_draws_between_zero_and_the_ceiling(
    policy: BackoffPolicy, retry_number: int, seed: int
) -> None:
    sleep_s = compute_backoff(policy, retry_number, random.Random(seed))

    assert 0.0 <= sleep_s <= backoff_ceiling(policy, retry_number)


def test_full_jitter_spreads_over_the_whole_range() -> None:
    # Equal jitter (ceiling/2 + draw) would never go below half; full jitter reaches both ends.
    rng = random.Random(3)
    policy = BackoffPolicy(base_s=1.0, cap_s=1.0)

    draws = [compute_backoff(policy, 1, rng) for _ in range(1000)]

    assert min(draws) < 0.01
    assert max(draws) > 0.99
    assert 0.45 < sum(draws) / len(draws) < 0.55


def test_retry_after_longer_than_the_draw_is_slept_exactly() -> None:
    policy = BackoffPolicy(base_s=0.1, cap_s=2.0)

    assert compute_backoff(policy, 1, random.Random(7), retry_after_s=1.0) == 1.0
    assert compute_backoff(policy, 1, random.Random(7), retry_after_s=30) == 30.0


def test_retry_after_shorter_than_the_draw_leaves_the_draw() -> None:
    policy = BackoffPolicy(base_s=1.0, cap_s=1.0)
    draw = compute_backoff(policy, 1, random.Random(11))
    assert draw > 0.01  # precondition: this seed draws above the hint

    assert compute_backoff(policy, 1, random.Random(11), retry_after_s=0.01) == draw
    assert compute_backoff(policy, 1, random.Random(11), retry_after_s=None) == draw


def test_a_retry_after_hint_still_consumes_one_draw() -> None:
    # The service and the twin must stay in step whether or not a hint arrived.
    policy = BackoffPolicy()
    with_hint, without_hint = random.Random(5), random.Random(5)

    compute_backoff(policy, 1, with_hint, retry_after_s=10.0)
    compute_backoff(policy, 1, without_hint)

    assert with_hint.getstate() == without_hint.getstate()


def _sequence(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [compute_backoff(BackoffPolicy(), n, rng) for n in range(1, 11)]


def test_the_same_seed_gives_the_same_sequence() -> None:
    assert _sequence(42) == _sequence(42)


def test_different_seeds_give_different_sequences() -> None:
    assert _sequence(42) != _sequence(43)


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"base_s": -0.1}, "base_s"),
        ({"cap_s": -1.0}, "cap_s"),
        ({"multiplier": 0.5}, "multiplier"),
    ],
)
def test_policy_rejects_negative_times_and_shrinking_multipliers(
    kwargs: dict[str, float], names: str
) -> None:
    with pytest.raises(ValueError, match=names):
        BackoffPolicy(**kwargs)


def test_policy_accepts_zero_times_and_a_constant_multiplier() -> None:
    policy = BackoffPolicy(base_s=0.0, cap_s=0.0, multiplier=1.0)

    assert compute_backoff(policy, 3, random.Random(0)) == 0.0


@pytest.mark.parametrize("retry_number", [0, -1])
def test_retry_numbers_start_at_one(retry_number: int) -> None:
    with pytest.raises(ValueError, match="retry_number starts at 1"):
        backoff_ceiling(BackoffPolicy(), retry_number)
