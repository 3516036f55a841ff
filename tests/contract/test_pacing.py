"""The load's pacing offers exactly the scenario's rate, per step, spread over the users."""

from __future__ import annotations

import pytest

from contract.pacing import arrival_time_s, user_request_due_s

STEPS = [(0.0, 10.0), (2.0, 50.0), (3.0, 100.0)]


def test_each_step_offers_its_rate_from_its_first_instant():
    times = [arrival_time_s(n, STEPS) for n in range(400)]
    per_window = {(a, b): sum(1 for t in times if a <= t < b) for a, b in [(0, 2), (2, 3), (3, 5)]}
    assert per_window == {(0, 2): 20, (2, 3): 50, (3, 5): 200}
    assert times == sorted(times)


def test_users_interleave_so_together_they_offer_the_rate():
    users = 7
    times = sorted(
        user_request_due_s(user, users, sent, [(0.0, 35.0)])
        for user in range(users)
        for sent in range(10)
    )
    gaps = {round(b - a, 9) for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {round(1 / 35, 9)}
    assert times[0] == 0.0  # user 0 starts at once; the others spread over the first interval


def test_a_single_constant_step():
    assert arrival_time_s(100, [(0.0, 50.0)]) == pytest.approx(2.0)
