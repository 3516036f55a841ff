"""The fault schedule: a scenario's faults as ordered apply/revert steps, the same in both modes.

`schedule(faults)` turns the `faults:` of a scenario into `TimelineStep`s in the order they take
effect; real mode plays them in wall-clock time (`scenarios.timeline.RealtimePlayer`), the twin in
virtual time (`sim.timeline`). `phase_name` names the phase a fault opens, so both modes record
the same phase names. Pure: no clock, no I/O; it never plays anything itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TimelineStep:
    at_s: float
    verb: str  # "apply" | "revert"
    index: int  # position of the fault in the scenario, for names and witnesses
    fault: Any


def phase_name(index: int, fault: Any) -> str:
    """A fault's phase name: its own `name` when it has one, else `<action>#<index>`."""
    return getattr(fault, "phase", None) or f"{fault.action}#{index}"


def schedule(faults: Sequence[Any]) -> list[TimelineStep]:
    """Apply at `at_s`, revert at `until_s` (none: stays to the end). Ties: reverts first, then by
    fault index, so a fault that ends when the next begins never overlaps it."""
    steps: list[TimelineStep] = []
    for index, fault in enumerate(faults):
        steps.append(TimelineStep(float(fault.at_s), "apply", index, fault))
        if fault.until_s is not None:
            steps.append(TimelineStep(float(fault.until_s), "revert", index, fault))
    return sorted(steps, key=lambda s: (s.at_s, 0 if s.verb == "revert" else 1, s.index))
