"""The fault timeline's real-time player: applying and reverting on time, reverting on stop."""

from __future__ import annotations

import time
from dataclasses import dataclass

from contract.fault_schedule import schedule
from scenarios.timeline import RealtimePlayer


@dataclass
class F:
    at_s: float
    until_s: float | None
    action: str = "latency"
    target: str = "network"
    phase: str | None = None


class Recorder:
    def __init__(self):
        self.calls = []

    def apply(self, index, fault):
        self.calls.append(("apply", index, time.monotonic()))

    def revert(self, index, fault):
        if fault.action == "boom":
            raise RuntimeError("proxy gone")
        self.calls.append(("revert", index, time.monotonic()))


def test_player_applies_and_reverts_on_time_and_records_phases():
    recorder = Recorder()
    start = time.monotonic()
    player = RealtimePlayer(schedule([F(0.1, 0.3, phase="slow")]), recorder)
    player.start(start)
    player.join(timeout_s=5)
    assert [c[:2] for c in recorder.calls] == [("apply", 0), ("revert", 0)]
    assert recorder.calls[0][2] - start >= 0.09
    assert recorder.calls[1][2] - start >= 0.29
    window = player.phases[0]
    assert window.name == "slow" and 0.09 <= window.start_s < window.end_s


def test_stop_reverts_what_is_still_applied_and_errors_are_reported():
    recorder = Recorder()
    player = RealtimePlayer(schedule([F(0.0, None), F(0.0, 5.0, action="boom")]), recorder)
    player.start(time.monotonic())
    time.sleep(0.2)
    player.stop()
    assert ("revert", 0) in [c[:2] for c in recorder.calls]
    assert any("boom" in e for e in player.errors)
