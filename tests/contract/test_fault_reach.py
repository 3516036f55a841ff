"""Fault reach (`contract.fault_reach`): every fault phase must touch requests of the load, judged
alike in both modes from the answers, the attempts and the provider's call log."""

from __future__ import annotations

import dataclasses

from contract.evidence import ExternalState, Outcome, Phase, ProviderCall
from contract.fault_reach import REACH_CHECK, fault_reach, reach_verdict
from contract.spec import parse_scenario
from tests.contract.builders import clean_evidence, with_changes

SCENARIO = parse_scenario(
    """\
name: reach
description: d
load: {rate_rps: 10, duration_s: 10}
faults:
  - {at_s: 2, until_s: 4, target: provider, action: profile, phase: outage, params: {outage: true}}
  - {at_s: 6, until_s: 7, target: network, action: latency, phase: slow, params: {latency: 5}}
  - {at_s: 8, until_s: 9, target: network, action: latency, params: {latency: 5},
     reaches_requests: false}
"""
)


def test_each_fault_phase_counts_requests_and_those_that_met_a_fault() -> None:
    evidence = with_changes(
        clean_evidence(),
        phases=(Phase("outage", 2.0, 4.0), Phase("slow", 6.0, 7.0), Phase("latency#2", 8, 9)),
    )
    outage, slow, quiet = fault_reach(SCENARIO.faults, evidence)
    assert (outage.name, outage.requests, outage.met_fault) == ("outage", 2, 2)  # retried
    assert (slow.name, slow.requests, slow.met_fault) == ("slow", 0, 0)
    assert not quiet.required and quiet.name == "latency#2"
    verdict = reach_verdict([outage, slow, quiet])
    assert verdict.name == REACH_CHECK and not verdict.passed and verdict.violations == 1
    assert verdict.witness[0]["phase"] == "slow"  # the declared one is not held against it


def test_an_answer_or_a_faulted_call_shows_a_fault_too() -> None:
    base = clean_evidence()
    requests = list(base.requests)
    pending = dataclasses.replace(
        requests[4], outcome=Outcome.PENDING, external_state=ExternalState.PENDING
    )  # start 2.0
    requests[4] = pending
    attempts = {r.request_id: 1 for r in requests if not r.replayed}
    call = ProviderCall(3.1, "POST", "/v1/events", requests[5].appointment_id, 1, "outage", 503)
    evidence = with_changes(
        base, requests=tuple(requests), calendar_attempts=attempts, provider_calls=(call,)
    )
    (outage, *_rest) = fault_reach(SCENARIO.faults[:1], evidence)
    assert outage.met_fault == 2 and outage.calls_with_fault == 1
    assert reach_verdict([outage]).passed


def test_a_fault_never_applied_has_no_phase_to_judge() -> None:
    evidence = with_changes(clean_evidence(), phases=())
    assert fault_reach(SCENARIO.faults, evidence) == []
