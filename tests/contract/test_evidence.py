"""Evidence: outcome classification, the metric blocks, and the byte-stable JSON Lines files."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from contract.event_log import (
    decode_jsonl,
    encode_json_value,
    encode_jsonl,
    read_jsonl,
    sha256_hex,
    write_atomic,
    write_jsonl,
)
from contract.evidence import (
    METRIC_BLOCKS,
    AppointmentState,
    AppointmentStatus,
    BreakerState,
    ExternalState,
    MetricSample,
    Operation,
    Outcome,
    ProviderEvent,
    RequestRecord,
    classify_outcome,
    compute_metrics,
)
from tests.contract.builders import appointment, clean_evidence, event_for, record, with_changes


@pytest.mark.parametrize(
    ("operation", "status", "state", "outcome"),
    [
        (Operation.CREATE, 201, ExternalState.CONFIRMED, Outcome.CONFIRMED),
        (Operation.CREATE, 202, ExternalState.PENDING, Outcome.PENDING),
        (Operation.RESCHEDULE, 200, ExternalState.FAILED, Outcome.FAILED),
        (Operation.CREATE, 201, None, Outcome.OK),
        (Operation.CANCEL, 200, ExternalState.CONFIRMED, Outcome.OK),
        (Operation.GET, 200, None, Outcome.OK),
        (Operation.CREATE, 409, None, Outcome.CONFLICT),
        (Operation.CREATE, 422, None, Outcome.REJECTED),
        (Operation.CREATE, 503, None, Outcome.SERVER_ERROR),
        (Operation.CREATE, None, None, Outcome.TRANSPORT_ERROR),
    ],
)
def test_outcomes_are_classified_alike_in_both_modes(
    operation: Operation, status: int | None, state: ExternalState | None, outcome: Outcome
) -> None:
    assert classify_outcome(operation, status, state) is outcome


def test_the_metrics_have_exactly_the_published_shape() -> None:
    metrics = compute_metrics(clean_evidence())
    assert {block: tuple(values) for block, values in metrics.items()} == METRIC_BLOCKS
    assert set(metrics["requests"]["by_outcome"]) == {o.value for o in Outcome}


def test_request_metrics_on_a_small_run() -> None:
    evidence = clean_evidence(count=4, replays=0)
    extra = (
        record("conflict", None, start_s=1, latency_ms=40, http_status=409),
        record("timeout", None, start_s=2, latency_ms=1000, http_status=None),
    )
    metrics = compute_metrics(with_changes(evidence, requests=(*evidence.requests, *extra)))
    assert metrics["requests"]["total"] == 6
    assert metrics["requests"]["rps"] == pytest.approx(0.6)
    assert metrics["requests"]["success_rate"] == pytest.approx(5 / 6)
    assert metrics["requests"]["by_outcome"]["conflict"] == 1
    assert metrics["requests"]["by_outcome"]["transport_error"] == 1
    assert metrics["latency_ms"] == {"p50": 20.0, "p95": 1000.0, "p99": 1000.0, "max": 1000.0}


def test_breaker_outbox_and_retry_metrics_from_samples() -> None:
    samples = (
        MetricSample(0.0, 0, BreakerState.CLOSED, 0, 0),
        MetricSample(2.0, 3, BreakerState.OPEN, 4, 10),
        MetricSample(3.0, 7, BreakerState.OPEN, 4, 10),
        MetricSample(5.0, 5, BreakerState.HALF_OPEN, 5, 12),
        MetricSample(6.0, 2, BreakerState.OPEN, 6, 13),
        MetricSample(7.0, 0, BreakerState.CLOSED, 6, 15),
        MetricSample(11.0, 4, BreakerState.CLOSED, 7, 16),
        MetricSample(12.5, 0, BreakerState.CLOSED, 8, 20),
        MetricSample(14.0, 0, BreakerState.CLOSED, 8, 20),
    )
    evidence = with_changes(
        clean_evidence(), samples=samples, calendar_attempts={"a": 1, "b": 3}, dead_lettered=2
    )
    metrics = compute_metrics(evidence)
    # Open from 2 to 5 (3 s) and from 6 to 7 (1 s); two openings.
    assert metrics["circuit_breaker"] == {"circuit_breaker_open_count": 2, "open_seconds": 4.0}
    # Load ends at 10 s; the outbox was last busy at 11 s and empty again at 12.5 s.
    assert metrics["outbox"] == {
        "backlog_max": 7,
        "backlog_final": 0,
        "drain_seconds": 2.5,
        "dead_lettered": 2,
    }
    assert metrics["retries"] == {"retries_total": 8, "per_request_max": 2}
    assert metrics["calendar"]["calendar_calls_total"] == 20


def test_counters_fall_back_to_attempts_and_the_call_log_without_samples() -> None:
    evidence = with_changes(clean_evidence(), samples=(), calendar_attempts={"a": 2, "b": 3})
    metrics = compute_metrics(evidence)
    assert metrics["retries"] == {"retries_total": 3, "per_request_max": 2}
    assert metrics["calendar"]["calendar_calls_total"] == 0
    assert metrics["outbox"]["backlog_final"] is None
    unknown = compute_metrics(with_changes(evidence, calendar_attempts=None))
    assert unknown["retries"] == {"retries_total": None, "per_request_max": None}


def test_a_backlog_that_never_drains_has_no_drain_time() -> None:
    samples = (
        MetricSample(0.0, 0, BreakerState.CLOSED, 0, 0),
        MetricSample(12, 3, BreakerState.CLOSED, 0, 0),
    )
    outbox = compute_metrics(with_changes(clean_evidence(), samples=samples))["outbox"]
    assert outbox["backlog_final"] == 3 and outbox["drain_seconds"] is None


def test_the_sample_counter_wins_over_counting_sampled_openings() -> None:
    samples = (
        MetricSample(0.0, 0, BreakerState.OPEN, 0, 0),
        MetricSample(1.0, 0, BreakerState.CLOSED, 0, 0, breaker_open_count=5),
    )
    metrics = compute_metrics(with_changes(clean_evidence(), samples=samples))
    assert metrics["circuit_breaker"]["circuit_breaker_open_count"] == 5


def test_duplicate_bookings_count_the_extra_events() -> None:
    evidence = clean_evidence()
    state = evidence.appointments[0]
    extras = (event_for(state, id="dup-1"), event_for(state, id="dup-2", idempotency_key=None))
    stray = event_for(appointment(40), id="stray", calendar_id="nowhere", idempotency_key=None)
    broken = with_changes(evidence, provider_events=(*evidence.provider_events, *extras, stray))
    assert compute_metrics(broken)["calendar"]["duplicate_bookings"] == 2


def test_json_values_are_canonical() -> None:
    value = {"b": 1.5, "a": [True, None, -0.0, 3], "c": "é\n", "d": Outcome.PENDING}
    assert (
        encode_json_value(value)
        == '{"a":[true,null,0.000000,3],"b":1.500000,"c":"\\u00e9\\n","d":"pending"}'
    )
    with pytest.raises(ValueError, match="not a finite number"):
        encode_json_value(float("nan"))
    with pytest.raises(TypeError):
        encode_json_value(object())


def test_an_event_log_round_trips_and_is_byte_stable(tmp_path: Path) -> None:
    rows = list(clean_evidence().requests)
    rows.append(record("int-latency", None, start_s=1, latency_ms=12, http_status=None))
    digest = write_jsonl(tmp_path / "events.jsonl", rows)
    data = (tmp_path / "events.jsonl").read_bytes()
    assert digest == sha256_hex(data) and len(digest) == 64
    first_line = data.splitlines()[0].decode()
    assert first_line.startswith(
        '{"appointment_id":"appt-0","as_expected":null,"body_digest":null,"end_s":0.020000,'
    )
    back = read_jsonl(tmp_path / "events.jsonl", RequestRecord)
    assert back[-1].latency_ms == 12.0 and isinstance(back[-1].latency_ms, float)
    assert back[0].operation is Operation.CREATE and back[0].outcome is Outcome.CONFIRMED
    # Floats are written with six decimals, so they come back rounded to six decimals.
    assert back == [
        dataclasses.replace(
            row,
            start_s=round(row.start_s, 6),
            end_s=round(row.end_s, 6),
            latency_ms=round(row.latency_ms, 6),
        )
        for row in rows
    ]
    assert encode_jsonl(back) == data  # the same rows always give the same bytes
    samples = list(clean_evidence().samples)
    write_jsonl(tmp_path / "series.jsonl", samples)
    assert read_jsonl(tmp_path / "series.jsonl", MetricSample) == samples


def test_a_bad_event_log_line_is_named() -> None:
    with pytest.raises(ValueError, match=r"line 2: unknown field\(s\) \['extra'\]"):
        decode_jsonl(b'\n{"t_s": 1}\n'.replace(b'{"t_s": 1}', b'{"extra": 1}'), MetricSample)
    with pytest.raises(ValueError, match="line 1"):
        decode_jsonl(b'{"t_s": 1.0}\n', MetricSample)


def test_an_atomic_write_that_fails_leaves_neither_half_a_file_nor_a_temp(tmp_path: Path) -> None:
    target = tmp_path / "out" / "results.json"
    write_atomic(target, b"old")

    class Boom(Exception):
        pass

    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise Boom

    os.fsync = failing_fsync
    try:
        with pytest.raises(Boom):
            write_atomic(target, b"new")
    finally:
        os.fsync = real_fsync
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def test_float_noise_does_not_change_the_bytes() -> None:
    # Two runs that reach one instant by different sums must still log the same bytes.
    row = record("r", None, start_s=0.3, latency_ms=20, http_status=None)
    noisy = dataclasses.replace(row, start_s=0.1 + 0.2, end_s=0.1 + 0.2 + 0.02)
    assert noisy.start_s != row.start_s
    assert encode_jsonl([noisy]) == encode_jsonl([row])


def test_the_services_and_providers_json_become_evidence() -> None:
    state = AppointmentState.from_json(
        {
            "id": "a1",
            "resource_id": "r1",
            "customer_id": "c1",
            "slot": {"start_time": "2030-01-07T09:00:00Z", "end_time": "2030-01-07T09:30:00Z"},
            "status": "booked",
            "external_state": "CONFIRMED",
            "external_id": "e1",
            "version": 2,
        },
        idempotency_key="k1",
    )
    assert (state.status, state.external_state, state.idempotency_key) == (
        AppointmentStatus.BOOKED,
        ExternalState.CONFIRMED,
        "k1",
    )
    event = ProviderEvent.from_json(
        {
            "id": "e1",
            "calendar_id": "r1",
            "start": "2030-01-07T09:00:00+00:00",
            "end": "2030-01-07T09:30:00Z",
            "summary": "x",
            "idempotency_key": "appt-a1",
            "created_at": "2030-01-01T00:00:00Z",
        }
    )
    evidence = with_changes(clean_evidence(), appointments=(state,), provider_events=(event,))
    assert compute_metrics(evidence)["calendar"]["duplicate_bookings"] == 0
