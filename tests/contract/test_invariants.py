"""Every invariant both ways: a clean run holds, a crafted broken run fails with the right witness."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.evidence import AppointmentStatus, ExternalState, RunEvidence
from contract.invariants import INVARIANT_NAMES, WITNESS_LIMIT, check_invariants
from tests.contract.builders import appointment, clean_evidence, event_for, record, with_changes


def verdicts(evidence: RunEvidence) -> dict[str, object]:
    return {r.name: r for r in check_invariants(evidence)}


def failed(evidence: RunEvidence) -> dict[str, tuple[dict, ...]]:
    """name → witness of each failed invariant."""
    return {r.name: r.witness for r in check_invariants(evidence) if not r.passed}


def test_a_clean_run_holds_every_invariant() -> None:
    results = check_invariants(clean_evidence())
    assert [r.name for r in results] == list(INVARIANT_NAMES)
    assert all(r.passed and r.checked and r.violations == 0 for r in results)


def test_a_selection_checks_only_the_named_invariants() -> None:
    results = check_invariants(clean_evidence(), ["nothing_pending", "replays_identical"])
    assert [r.name for r in results] == ["nothing_pending", "replays_identical"]
    with pytest.raises(ValueError, match="unknown invariant"):
        check_invariants(clean_evidence(), ["no_such_thing"])


def test_two_events_with_one_provider_key_are_a_duplicate() -> None:
    evidence = clean_evidence()
    original = evidence.provider_events[1]
    copy = dataclasses.replace(original, id="evt-dup", start="2031-01-01T00:00:00Z")
    broken = with_changes(evidence, provider_events=(*evidence.provider_events, copy))
    witness = failed(broken)["no_duplicate_provider_events"]
    assert witness == (
        {
            "event_ids": ["evt-1", "evt-dup"],
            "provider_keys": ["provider-appt-1"],
            "appointment_ids": ["appt-1"],
            "idempotency_keys": ["key-1"],
        },
    )


def test_two_keyless_events_on_one_appointments_slot_are_a_duplicate() -> None:
    # A provider that got no key (the negative control): only the slot ties the events together.
    evidence = clean_evidence()
    states = evidence.appointments
    events = tuple(event_for(s, idempotency_key=None) for s in states)
    extra = event_for(states[2], id="evt-retry", idempotency_key=None)
    broken = with_changes(evidence, provider_events=(*events, extra))
    witness = failed(broken)["no_duplicate_provider_events"]
    assert [w["event_ids"] for w in witness] == [["evt-2", "evt-retry"]]
    assert witness[0]["idempotency_keys"] == ["key-2"]
    assert "confirmed_have_one_event" in failed(broken)


def test_overlapping_confirmed_bookings_on_one_resource_fail() -> None:
    evidence = clean_evidence()
    first = evidence.appointments[0]
    clash = appointment(
        99, start="2030-01-07T09:15:00Z", end="2030-01-07T09:45:00Z", resource_id=first.resource_id
    )
    broken = with_changes(
        evidence,
        appointments=(*evidence.appointments, clash),
        provider_events=(*evidence.provider_events, event_for(clash)),
    )
    witness = failed(broken)["no_overlapping_bookings"]
    assert [w["appointment_ids"] for w in witness] == [["appt-0", "appt-99"]]
    assert witness[0]["resource_id"] == first.resource_id


def test_back_to_back_and_cancelled_slots_do_not_overlap() -> None:
    evidence = clean_evidence()
    first = evidence.appointments[0]
    after = appointment(98, start=first.end, end="2030-01-07T10:00:00Z", resource_id="res-0")
    cancelled = appointment(
        97, start=first.start, end=first.end, status=AppointmentStatus.CANCELLED, external_id=None
    )
    fine = with_changes(
        evidence,
        appointments=(*evidence.appointments, after, cancelled),
        provider_events=(*evidence.provider_events, event_for(after)),
    )
    assert "no_overlapping_bookings" not in failed(fine)


def test_a_replay_answered_differently_fails() -> None:
    evidence = clean_evidence()
    state = evidence.appointments[0]
    other = dataclasses.replace(state, id="appt-other")
    replay = record("replay-bad", other, start_s=8.0, replayed=True)
    broken = with_changes(evidence, requests=(*evidence.requests, replay))
    witness = failed(broken)["replays_identical"]
    assert witness == (
        {
            "idempotency_key": "key-0",
            "operation": "create",
            "first": {"request_id": "req-0", "http_status": 201, "appointment_id": "appt-0"},
            "differs": {
                "request_id": "replay-bad",
                "http_status": 201,
                "appointment_id": "appt-other",
            },
        },
    )


def test_in_flight_409s_5xx_and_another_body_are_not_replays() -> None:
    evidence = clean_evidence()
    state = evidence.appointments[0]
    extra = (
        record("busy", state, start_s=0.01, http_status=409),
        record("boom", state, start_s=0.02, http_status=503),
        record("lost", state, start_s=0.03, http_status=None),
        record("other-body", state, start_s=7.0, http_status=422, body_digest="other"),
    )
    fine = with_changes(evidence, requests=(*evidence.requests, *extra))
    assert "replays_identical" not in failed(fine)


def test_an_acknowledged_appointment_that_vanished_fails() -> None:
    evidence = clean_evidence()
    gone = evidence.appointments[3]
    broken = with_changes(
        evidence,
        appointments=tuple(a for a in evidence.appointments if a.id != gone.id),
        provider_events=tuple(e for e in evidence.provider_events if e.id != gone.external_id),
    )
    witness = failed(broken)["no_acknowledged_loss"]
    assert witness == (
        {
            "appointment_id": "appt-3",
            "request_id": "req-3",
            "http_status": 201,
            "idempotency_key": "key-3",
        },
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"external_id": None}, "CONFIRMED without an external_id"),
        ({"external_id": "evt-nowhere"}, "external_id evt-nowhere is not at the provider"),
    ],
)
def test_a_confirmed_appointment_without_its_event_fails(change: dict, reason: str) -> None:
    evidence = clean_evidence()
    states = list(evidence.appointments)
    states[4] = dataclasses.replace(states[4], **change)
    events = tuple(e for e in evidence.provider_events if e.id != "evt-4")
    broken = with_changes(evidence, appointments=tuple(states), provider_events=events)
    witness = failed(broken)["confirmed_have_one_event"]
    assert [(w["appointment_id"], w["reason"]) for w in witness] == [("appt-4", reason)]


def test_an_event_on_the_wrong_calendar_or_time_fails() -> None:
    evidence = clean_evidence()
    events = list(evidence.provider_events)
    events[0] = dataclasses.replace(events[0], calendar_id="res-elsewhere")
    events[1] = dataclasses.replace(events[1], end="2030-01-07T11:00:00Z")
    broken = with_changes(evidence, provider_events=tuple(events))
    witness = failed(broken)["confirmed_have_one_event"]
    assert [w["appointment_id"] for w in witness] == ["appt-0", "appt-1"]
    assert "calendar res-elsewhere" in witness[0]["reason"]
    assert "2030-01-07T11:00:00Z" in witness[1]["reason"]


def test_an_event_of_a_cancelled_appointment_is_an_orphan() -> None:
    evidence = clean_evidence()
    states = list(evidence.appointments)
    states[5] = dataclasses.replace(states[5], status=AppointmentStatus.CANCELLED)
    broken = with_changes(evidence, appointments=tuple(states))
    witness = failed(broken)["no_orphan_events"]
    assert [(w["event_id"], w["appointment_id"]) for w in witness] == [("evt-5", "appt-5")]


def test_an_event_nobody_owns_is_an_orphan() -> None:
    evidence = clean_evidence()
    stray = event_for(appointment(50), id="evt-stray", calendar_id="res-x")
    broken = with_changes(evidence, provider_events=(*evidence.provider_events, stray))
    witness = failed(broken)["no_orphan_events"]
    assert [(w["event_id"], w["appointment_id"]) for w in witness] == [("evt-stray", None)]


def test_anything_still_pending_after_the_drain_fails() -> None:
    evidence = clean_evidence()
    states = list(evidence.appointments)
    states[2] = dataclasses.replace(states[2], external_state=ExternalState.PENDING)
    broken = with_changes(evidence, appointments=tuple(states))
    assert failed(broken)["nothing_pending"] == (
        {"appointment_id": "appt-2", "status": "booked", "idempotency_key": "key-2"},
    )


def test_more_attempts_than_the_retry_bound_fails() -> None:
    evidence = clean_evidence()
    attempts = {**evidence.calendar_attempts, "req-1": 4, "req-2": 3}
    broken = with_changes(evidence, calendar_attempts=attempts)
    assert failed(broken)["retries_within_bound"] == (
        {"request_id": "req-1", "idempotency_key": "key-1", "attempts": 4, "bound": 3},
    )


def test_without_attempt_counts_the_retry_bound_is_reported_unchecked() -> None:
    result = verdicts(with_changes(clean_evidence(), calendar_attempts=None))
    bound = result["retries_within_bound"]
    assert bound.passed and not bound.checked and bound.detail.startswith("not checked")


def test_a_witness_is_capped_but_the_count_is_not() -> None:
    evidence = clean_evidence(count=30)
    states = tuple(
        dataclasses.replace(s, external_state=ExternalState.PENDING) for s in evidence.appointments
    )
    (pending,) = check_invariants(with_changes(evidence, appointments=states), ["nothing_pending"])
    assert pending.violations == 30 and len(pending.witness) == WITNESS_LIMIT


runs = st.builds(
    clean_evidence,
    count=st.integers(min_value=1, max_value=25),
    resources=st.integers(min_value=1, max_value=4),
    replays=st.integers(min_value=0, max_value=5),
)


@settings(max_examples=60, deadline=None)
@given(evidence=runs, data=st.data())
def test_one_injected_duplicate_is_always_caught(
    evidence: RunEvidence, data: st.DataObject
) -> None:
    assert not failed(evidence)
    victim = data.draw(st.sampled_from(evidence.provider_events))
    keep_key = data.draw(st.booleans())
    copy = dataclasses.replace(
        victim,
        id="evt-injected",
        idempotency_key=victim.idempotency_key if keep_key else None,
        start=victim.start if not keep_key else "2035-01-01T00:00:00Z",
    )
    broken = with_changes(evidence, provider_events=(*evidence.provider_events, copy))
    witness = failed(broken)["no_duplicate_provider_events"]
    assert len(witness) == 1
    assert sorted(witness[0]["event_ids"]) == sorted([victim.id, "evt-injected"])


@settings(max_examples=60, deadline=None)
@given(evidence=runs, data=st.data())
def test_one_injected_loss_is_always_caught(evidence: RunEvidence, data: st.DataObject) -> None:
    victim = data.draw(st.sampled_from(evidence.appointments))
    broken = with_changes(
        evidence,
        appointments=tuple(a for a in evidence.appointments if a.id != victim.id),
        provider_events=tuple(e for e in evidence.provider_events if e.id != victim.external_id),
    )
    result = failed(broken)
    assert set(result) == {"no_acknowledged_loss"}
    assert [w["appointment_id"] for w in result["no_acknowledged_loss"]] == [victim.id]
