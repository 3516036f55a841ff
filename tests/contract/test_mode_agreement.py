"""Mode agreement (`contract.mode_agreement`): the sim's counts against the median of the real
runs, within max(3, 10%) or a tolerance the scenario widened with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from contract.mode_agreement import Tolerance, compare, counts_of, render


def entry(
    name: str, confirmed: int, pending: int = 0, calls: int = 0, **extra: int
) -> dict[str, Any]:
    return {
        "name": name,
        "requests": {"by_outcome": {"confirmed": confirmed, "pending": pending, **extra}},
        "calendar": {"calendar_calls_total": calls},
        "circuit_breaker": {"circuit_breaker_open_count": 0},
        "outbox": {"dead_lettered": 0},
    }


def test_counts_come_from_the_results_entry() -> None:
    counts = counts_of(entry("s", 7, 2, 11, transport_error=1))
    assert counts["requests.confirmed"] == 7 and counts["requests.pending"] == 2
    assert counts["requests.transport_error"] == 1 and counts["calendar.calls"] == 11
    assert counts["requests.failed"] == 0 and counts["breaker.openings"] == 0


def test_within_three_or_ten_percent_of_the_real_median_agrees() -> None:
    reals = [[entry("s", 100, 0, 200)], [entry("s", 104, 0, 210)], [entry("s", 90, 0, 190)]]
    (agrees,) = compare([entry("s", 110, 0, 220)], reals)  # median 100 and 200: 10% each
    assert agrees.agrees
    (differs,) = compare([entry("s", 111, 0, 200)], reals)
    assert not differs.agrees
    assert [row.count for row in differs.disagreements] == ["requests.confirmed"]
    small = [[entry("t", 2)], [entry("t", 3)], [entry("t", 2)]]
    (slack,) = compare([entry("t", 5)], small)  # 3 either way for small counts
    assert slack.agrees
    (too_far,) = compare([entry("t", 6)], small)
    assert not too_far.agrees


def test_a_widened_tolerance_applies_to_its_count_only_and_shows_its_reason() -> None:
    reals = [[entry("s", 100, 50)], [entry("s", 100, 50)], [entry("s", 100, 50)]]
    widened = {"s": {"requests.pending": Tolerance(3, 0.5, "deadline races the provider")}}
    (row,) = compare([entry("s", 100, 70)], reals, widened)
    assert row.agrees
    (strict,) = compare([entry("s", 120, 70)], reals, widened)
    assert [r.count for r in strict.disagreements] == ["requests.confirmed"]
    text = render([row], all_counts=True)
    assert "deadline races the provider" in text and "1 of 1 scenarios agree" in text


def test_real_runs_that_do_not_repeat_are_pointed_out() -> None:
    reals = [[entry("s", 22)], [entry("s", 32)], [entry("s", 87)]]
    (row,) = compare([entry("s", 32)], reals)
    confirmed = next(r for r in row.rows if r.count == "requests.confirmed")
    assert confirmed.agrees and not confirmed.real_repeats
    assert "real varies" in render([row])


def test_a_scenario_missing_from_a_real_run_is_an_error() -> None:
    with pytest.raises(ValueError, match="real run 2 has no result for scenario 's'"):
        compare([entry("s", 1)], [[entry("s", 1)], [entry("other", 1)]])
