"""What the twin does, as a user of the results sees it: healthy bookings confirm at once; an
outage opens the breaker, fast-fails to PENDING and drains after; commit-then-fail makes no
duplicate while keys reach the provider and duplicates with the legacy switches off; crashes
lose no acknowledged booking; the network faults of a timeline behave as their toxics do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contract.evidence import BreakerState, Outcome, RunEvidence, compute_metrics, percentile
from contract.invariants import check_invariants
from contract.spec import Scenario, load_catalog, parse_scenario
from sim import apply_overrides, simulate, simulate_run

CATALOG = {
    s.name: s for s in load_catalog(Path(__file__).resolve().parents[2] / "scenarios/catalog")
}


def scenario(text: str) -> Scenario:
    return parse_scenario(text, "test")


def failed_invariants(evidence: RunEvidence, scenario: Scenario) -> dict[str, int]:
    return {
        r.name: r.violations
        for r in check_invariants(evidence, scenario.invariant_names())
        if not r.passed
    }


def outcomes(evidence: RunEvidence) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in evidence.requests:
        counts[record.outcome.value] = counts.get(record.outcome.value, 0) + 1
    return counts


def test_healthy_creates_are_all_confirmed_at_once_with_one_event_each() -> None:
    healthy = CATALOG["healthy"]
    evidence = simulate(healthy)
    creates = [r for r in evidence.requests if r.operation.value == "create"]
    assert creates and all(r.http_status == 201 for r in creates)
    assert all(r.outcome is Outcome.CONFIRMED for r in creates)
    assert failed_invariants(evidence, healthy) == {}
    booked = [a for a in evidence.appointments if a.status.value == "booked"]
    assert len(evidence.provider_events) == len(booked)
    assert evidence.samples[-1].outbox_length == 0
    assert compute_metrics(evidence)["latency_ms"]["p95"] < 50


def test_an_outage_opens_the_breaker_fast_fails_to_pending_then_drains() -> None:
    outage = CATALOG["outage"]
    evidence = simulate(outage)
    during = [s for s in evidence.samples if 2.5 <= s.t_s < 6.0]
    assert any(s.breaker_state is BreakerState.OPEN for s in during)
    assert max(s.outbox_length for s in during) > 50  # the work waits in the outbox
    in_outage = [r.latency_ms for r in evidence.requests if 2.0 <= r.start_s < 6.0]
    assert percentile(in_outage, 95) < 50  # fast-fail, not 3 attempts each
    pending = [r for r in evidence.requests if r.outcome is Outcome.PENDING]
    # Pending: the requests that met the outage (one sent a hair before 2 s arrives after it).
    assert pending and all(1.99 <= r.start_s < 6.5 for r in pending)
    assert evidence.samples[-1].outbox_length == 0
    assert evidence.samples[-1].breaker_state is BreakerState.CLOSED
    assert all(a.external_state.value == "CONFIRMED" for a in evidence.appointments)
    assert failed_invariants(evidence, outage) == {}
    assert compute_metrics(evidence)["circuit_breaker"]["circuit_breaker_open_count"] >= 1


COMMIT_THEN_FAIL = """
name: ctf
description: every create commits then fails, half with an error, half dropped
seed: 4
load: {users: 5, rate_rps: 20, duration_s: 2}
faults:
  - {at_s: 0, until_s: 1, target: provider, action: profile,
     params: {commit_then_fail_rate: 0.5, commit_then_fail_mode: error}}
  - {at_s: 1, until_s: 2, target: provider, action: profile,
     params: {commit_then_fail_rate: 0.5, commit_then_fail_mode: drop}}
settings: {breaker_consecutive_failures: 50, breaker_failure_rate: 1.0, relay_poll_s: 0.2}
drain_s: 3
"""


def test_commit_then_fail_makes_no_duplicate_while_keys_reach_the_provider() -> None:
    ctf = scenario(COMMIT_THEN_FAIL)
    evidence = simulate(ctf)
    faults = {call.fault for call in evidence.provider_calls}
    assert "commit_then_fail" in faults
    assert any(call.status is None for call in evidence.provider_calls)  # the dropped answers
    assert compute_metrics(evidence)["calendar"]["duplicate_bookings"] == 0
    assert failed_invariants(evidence, ctf) == {}


@pytest.mark.parametrize(
    "switches",
    [
        {"settings.profile": "legacy"},
        {"settings.protect_provider_key": False},
    ],
)
def test_commit_then_fail_duplicates_with_the_legacy_switches(switches: dict[str, Any]) -> None:
    ctf, _ = apply_overrides(scenario(COMMIT_THEN_FAIL), switches)
    evidence = simulate(ctf)
    assert compute_metrics(evidence)["calendar"]["duplicate_bookings"] > 0
    assert "no_duplicate_provider_events" in failed_invariants(evidence, ctf)


def test_a_provider_that_ignores_keys_duplicates_too() -> None:
    ctf, _ = apply_overrides(scenario(COMMIT_THEN_FAIL), {})
    faults = [f.model_dump(mode="json", exclude_unset=True) for f in ctf.faults]
    for fault in faults:
        fault["params"]["honour_idempotency"] = False
    ignoring, _ = apply_overrides(ctf, {"faults": faults})
    evidence = simulate(ignoring)
    assert compute_metrics(evidence)["calendar"]["duplicate_bookings"] > 0


def test_legacy_concurrent_same_key_bursts_double_book() -> None:
    duplicate = CATALOG["duplicate"]
    assert failed_invariants(simulate(duplicate), duplicate) == {}
    legacy, _ = apply_overrides(duplicate, {"settings.profile": "legacy"})
    failed = failed_invariants(simulate(legacy), legacy)
    assert "no_overlapping_bookings" in failed
    assert "replays_identical" in failed


@pytest.mark.parametrize(
    "name",
    [
        "crash_after_db_commit",
        "crash_after_provider_success",
        "crash_relay_after_claim",
        "crash_relay_after_calendar",
    ],
)
def test_a_crash_loses_no_acknowledged_booking_and_the_relay_finishes_the_work(name: str) -> None:
    crash = CATALOG[name]
    run = simulate_run(crash)
    evidence = run.evidence
    assert any("crashed 1x" in note for note in run.notes)
    assert outcomes(evidence).get("transport_error", 0) > 0  # in flight, and refused meanwhile
    assert failed_invariants(evidence, crash) == {}
    assert evidence.samples[-1].outbox_length == 0
    assert all(a.external_state.value == "CONFIRMED" for a in evidence.appointments)


def test_a_crash_after_the_provider_confirmed_duplicates_without_provider_keys() -> None:
    crash, _ = apply_overrides(
        CATALOG["crash_after_provider_success"], {"settings.protect_provider_key": False}
    )
    assert "no_duplicate_provider_events" in failed_invariants(simulate(crash), crash)


NETWORK = """
name: net
description: the proxy resets answers, then is down
seed: 2
load: {users: 5, rate_rps: 20, duration_s: 4}
faults:
  - {at_s: 0.5, until_s: 1.5, target: network, action: reset_peer,
     params: {stream: downstream, timeout: 20}}
  - {at_s: 2, until_s: 3, target: network, action: down, phase: down}
settings: {relay_poll_s: 0.2, breaker_cooldown_s: 0.5}
drain_s: 4
"""


def test_network_resets_are_ambiguous_and_a_down_proxy_refuses() -> None:
    net = scenario(NETWORK)
    evidence = simulate(net)
    statuses = outcomes(evidence)
    assert statuses.get("pending", 0) > 0
    # A reset answer: the provider created the event, so its call log shows a 201 for a call the
    # service saw as failed; while down, the provider sees nothing at all.
    assert not [c for c in evidence.provider_calls if 2.0 <= c.t_s < 3.0]
    assert failed_invariants(evidence, net) == {}
    assert compute_metrics(evidence)["calendar"]["duplicate_bookings"] == 0


def test_a_slow_provider_answers_pending_within_the_deadline_and_confirms_later() -> None:
    slow = CATALOG["slow_provider"]
    evidence = simulate(slow)
    in_slow = [r for r in evidence.requests if 1.0 <= r.start_s < 4.0]
    assert in_slow and all(r.outcome is Outcome.PENDING for r in in_slow[2:])
    assert max(r.latency_ms for r in in_slow) < 320  # the 300 ms deadline, plus rendering
    assert failed_invariants(evidence, slow) == {}


def test_permanent_errors_fail_the_booking_and_dead_letter_the_row() -> None:
    permanent = CATALOG["permanent_error"]
    evidence = simulate(permanent)
    assert evidence.dead_lettered and evidence.dead_lettered > 0
    assert any(a.status.value == "failed" for a in evidence.appointments)
    assert outcomes(evidence).get("failed", 0) > 0
    assert failed_invariants(evidence, permanent) == {}


def test_retries_within_bound_is_checked_with_the_attempts_per_request() -> None:
    flaky = CATALOG["flaky_then_success"]
    evidence = simulate(flaky)
    assert evidence.retry_bound == flaky.settings["retry_max_attempts"] * (1 + 5)
    assert evidence.calendar_attempts
    known = {r.request_id for r in evidence.requests}
    assert set(evidence.calendar_attempts) <= known
    assert max(evidence.calendar_attempts.values()) >= 2
