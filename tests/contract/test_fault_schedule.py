"""The fault schedule: the order in which a scenario's faults are applied and reverted."""

from __future__ import annotations

from dataclasses import dataclass

from contract.fault_schedule import phase_name, schedule


@dataclass
class F:
    at_s: float
    until_s: float | None
    action: str = "latency"
    target: str = "network"
    phase: str | None = None


def test_schedule_orders_by_time_with_reverts_first_on_ties():
    steps = schedule([F(0, 1), F(1, None, phase="later"), F(0.5, 1)])
    assert [(s.at_s, s.verb, s.index) for s in steps] == [
        (0.0, "apply", 0),
        (0.5, "apply", 2),
        (1.0, "revert", 0),
        (1.0, "revert", 2),
        (1.0, "apply", 1),
    ]


def test_a_phase_is_named_by_the_fault_or_by_its_action_and_index():
    assert phase_name(3, F(0, 1, phase="outage")) == "outage"
    assert phase_name(3, F(0, 1, action="latency")) == "latency#3"
