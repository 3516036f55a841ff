"""The fault timeline's player in wall-clock time, for real mode.

The steps come from the run contract's pure `contract.fault_schedule.schedule(faults)` (the twin
replays the same steps in virtual time). `RealtimePlayer` plays them with `simpy.RealtimeEnvironment`
in its own thread — that environment blocks with `time.sleep`, so it must never run on the asyncio
loop or the main thread — calling an `Actuator` for each step and recording each phase's window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import simpy

from contract.fault_schedule import TimelineStep, phase_name


@dataclass
class PhaseWindow:
    name: str
    start_s: float
    end_s: float | None = None


class Actuator(Protocol):
    def apply(self, index: int, fault: Any) -> None: ...

    def revert(self, index: int, fault: Any) -> None: ...


class RealtimePlayer:
    """Plays a schedule against an actuator in wall-clock time, on a daemon thread."""

    def __init__(self, steps: Sequence[TimelineStep], actuator: Actuator, factor: float = 1.0):
        self.steps = list(steps)
        self.actuator = actuator
        self.factor = factor
        self.phases: dict[int, PhaseWindow] = {}
        self.errors: list[str] = []
        self._started_at: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, started_at: float) -> None:
        """`started_at`: the run's start on `time.monotonic()`; phases are relative to it."""
        self._started_at = started_at
        self._thread = threading.Thread(target=self._run, name="fault-timeline", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop early (Ctrl-C, a failure): revert whatever is still applied."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def close_open_phases(self, now_s: float) -> None:
        for window in self.phases.values():
            if window.end_s is None:
                window.end_s = now_s

    def _elapsed(self) -> float:
        assert self._started_at is not None
        return time.monotonic() - self._started_at

    def _run(self) -> None:
        env = simpy.RealtimeEnvironment(factor=self.factor, strict=False)
        env.process(self._play(env))
        env.run()
        if self._stop.is_set():
            self._revert_all_open()

    def _play(self, env: simpy.RealtimeEnvironment):  # type: ignore[no-untyped-def]
        offset = self._elapsed()  # the thread starts a hair after the run does
        for step in self.steps:
            # Wait in slices of at most 0.1 s so that stop() is noticed promptly.
            while not self._stop.is_set() and env.now + offset < step.at_s:
                yield env.timeout(min(0.1, step.at_s - offset - env.now))
            if self._stop.is_set():
                return
            self._do(step)

    def _do(self, step: TimelineStep) -> None:
        try:
            if step.verb == "apply":
                self.actuator.apply(step.index, step.fault)
                # From when the fault is in force: the actuator's call has returned.
                self.phases[step.index] = PhaseWindow(
                    phase_name(step.index, step.fault), self._elapsed()
                )
            else:
                self.actuator.revert(step.index, step.fault)
                window = self.phases.get(step.index)
                if window is not None:
                    window.end_s = self._elapsed()
        except Exception as exc:  # noqa: BLE001 - a failed step is reported, the run goes on
            self.errors.append(f"fault {step.index} ({step.fault.action}) {step.verb}: {exc}")

    def _revert_all_open(self) -> None:
        for index, window in self.phases.items():
            if window.end_s is None:
                fault = next(s.fault for s in self.steps if s.index == index)
                try:
                    self.actuator.revert(index, fault)
                except Exception as exc:  # noqa: BLE001
                    self.errors.append(f"fault {index} ({fault.action}) revert on stop: {exc}")
                window.end_s = self._elapsed()
