"""Crash point arming (the exit itself is exercised against a real process in
test_crash_recovery.py)."""

from __future__ import annotations

import pytest

from service.crash_points import CrashPoints


def test_disarmed_points_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # os._exit recorded, not called: a broken disarm must fail the test, not end pytest.
    exits: list[int] = []
    monkeypatch.setattr("service.crash_points.os._exit", exits.append)
    points = CrashPoints(None)
    for _ in range(3):
        points.hit("after_db_commit_before_calendar")
        assert not points.reached("after_db_commit_before_calendar")
    assert exits == [] and points.armed is None


def test_a_point_fires_once_then_disarms(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr("service.crash_points.os._exit", exits.append)
    points = CrashPoints("after_calendar_before_db_update")
    points.hit("after_calendar_before_db_update")
    points.hit("after_calendar_before_db_update")
    assert exits == [137] and points.armed is None


def test_armed_point_ignores_other_points_and_earlier_hits(monkeypatch: pytest.MonkeyPatch) -> None:
    exits: list[int] = []
    monkeypatch.setattr("service.crash_points.os._exit", exits.append)
    points = CrashPoints("relay_after_claim:3")
    points.hit("after_db_commit_before_calendar")
    points.hit("relay_after_claim")
    points.hit("relay_after_claim")
    assert exits == []
    points.hit("relay_after_claim")
    assert exits == [137]


@pytest.mark.parametrize("spec", ["nowhere", "relay_after_claim:0", "relay_after_claim:x"])
def test_bad_specs_are_refused_with_the_known_names(spec: str) -> None:
    with pytest.raises(ValueError, match="REHEARSAL_CRASH_AT"):
        CrashPoints(spec)
