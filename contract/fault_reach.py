"""Fault reach: did each fault of the timeline actually touch the load's requests? (issue 11)

A scenario whose faults barely reach the traffic is a gate that can hardly fail: a reset that
only ever fires between requests, a blackhole nobody calls through. So every fault phase says
how many requests started in it and how many of those met a fault, judged the same way in both
modes from what both gather:
- the answer shows it: PENDING, FAILED, a 5xx or no answer at all (the fault-free path answers
  201/200, or a 409/422 the client asked for);
- the request's calendar attempts show it: more than one create attempt for it (the provider's
  call log, `RunEvidence.calendar_attempts`), i.e. a failed attempt was retried;
- the provider's call log shows it: a call for it arrived during the phase carrying an injected
  fault (keyed to the request through the appointment it created).
A phase that touched none fails the run (`faults_reach_requests`) unless its fault says that is
the point (`reaches_requests: false`). Pure: a scenario and its evidence in, verdicts out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contract.evidence import Outcome, RunEvidence
from contract.fault_schedule import phase_name
from contract.invariants import WITNESS_LIMIT, InvariantResult

#: Answers a fault-free service never gives a well-formed request.
FAULTED_OUTCOMES = frozenset(
    {Outcome.PENDING, Outcome.FAILED, Outcome.SERVER_ERROR, Outcome.TRANSPORT_ERROR}
)


@dataclass(frozen=True)
class PhaseReach:
    """One fault phase: its window as played, the requests started in it, how many met a
    fault, and how many provider calls in it carried one."""

    name: str
    action: str
    start_s: float
    end_s: float
    requests: int
    met_fault: int
    calls_with_fault: int
    required: bool

    @property
    def reached(self) -> bool:
        return self.met_fault > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "requests": self.requests,
            "met_fault": self.met_fault,
            "calls_with_fault": self.calls_with_fault,
            "required": self.required,
        }


def fault_reach(faults: Sequence[Any], evidence: RunEvidence) -> list[PhaseReach]:
    """Each fault's phase (`contract.fault_schedule.phase_name`), in timeline order, with its
    window as the run recorded it."""
    windows = {phase.name: phase for phase in evidence.phases}
    attempts = evidence.calendar_attempts or {}
    faulted_requests = _requests_with_faulted_calls(evidence)
    reach = []
    for index, fault in enumerate(faults):
        name = phase_name(index, fault)
        window = windows.get(name)
        if window is None:
            continue  # never applied (the run ended first)
        started = [r for r in evidence.requests if window.contains(r.start_s)]
        met = sum(
            1
            for r in started
            if r.outcome in FAULTED_OUTCOMES
            or attempts.get(r.request_id, 0) > 1
            or r.request_id in faulted_requests
        )
        calls = sum(1 for c in evidence.provider_calls if c.fault and window.contains(c.t_s))
        reach.append(
            PhaseReach(
                name=name,
                action=str(fault.action),
                start_s=window.start_s,
                end_s=window.end_s,
                requests=len(started),
                met_fault=met,
                calls_with_fault=calls,
                required=bool(getattr(fault, "reaches_requests", True)),
            )
        )
    return reach


def unreached(reach: Sequence[PhaseReach]) -> list[dict[str, Any]]:
    """The phases that should have touched requests and touched none (the check's witness)."""
    return [
        {
            "phase": phase.name,
            "action": phase.action,
            "window_s": [phase.start_s, phase.end_s],
            "requests": phase.requests,
            "met_fault": 0,
            "calls_with_fault": phase.calls_with_fault,
        }
        for phase in reach
        if phase.required and not phase.reached
    ]


def _requests_with_faulted_calls(evidence: RunEvidence) -> set[str]:
    """Requests one of whose appointment's provider calls carried an injected fault."""
    creator: dict[str, str] = {}
    for record in evidence.requests:
        if record.appointment_id is not None and not record.replayed:
            creator.setdefault(record.appointment_id, record.request_id)
    return {
        creator[call.idempotency_key]
        for call in evidence.provider_calls
        if call.fault and call.idempotency_key in creator
    }


REACH_CHECK = "faults_reach_requests"


def reach_verdict(reach: Sequence[PhaseReach]) -> InvariantResult:
    """The run's verdict on its faults' reach, as an invariant result (judged with the others)."""
    missed = unreached(reach)
    detail = (
        "every fault phase met requests"
        if not missed
        else f"{len(missed)} fault phase(s) touched no request; first: {missed[0]}"
    )
    return InvariantResult(
        name=REACH_CHECK,
        description="every fault phase touched at least one request of the load (unless its "
        "fault says reaches_requests: false)",
        passed=not missed,
        checked=True,
        violations=len(missed),
        witness=tuple(missed[:WITNESS_LIMIT]),
        detail=detail,
    )
