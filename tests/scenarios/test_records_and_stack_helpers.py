"""Driver rows become event-log records; settings become env vars; metrics text is parsed."""

from __future__ import annotations

from contract.evidence import Operation, Outcome, RunEvidence, compute_metrics
from scenarios.collect import parse_prometheus
from scenarios.records import request_records


def _row(**over):
    row = {
        "scenario": "s",
        "seed": 1,
        "request_id": "r1",
        "idempotency_key": "k1",
        "operation": "create",
        "start_wall": 100.5,
        "end_wall": 100.52,
        "http_status": 201,
        "expected_statuses": [201, 202],
        "appointment_id": "a1",
        "external_state": "CONFIRMED",
        "replayed": False,
        "body_digest": "d",
    }
    row.update(over)
    return row


def test_rows_become_records_relative_to_the_run_start_in_start_order():
    records = request_records(
        [
            _row(
                request_id="r2", start_wall=100.9, end_wall=101.0, operation="replay", replayed=True
            ),
            _row(),
        ],
        started_wall=100.0,
    )
    assert [r.request_id for r in records] == ["r1", "r2"]
    first, second = records
    assert first.start_s == 0.5 and first.latency_ms == 20.0
    assert first.outcome is Outcome.CONFIRMED and first.as_expected is True
    assert second.operation is Operation.CREATE and second.replayed


def test_an_unexpected_status_counts_against_success_rate():
    good = _row()
    wrong = _row(request_id="r2", http_status=422, appointment_id=None, external_state=None)
    records = request_records([good, wrong], 100.0)
    assert records[1].as_expected is False
    metrics = compute_metrics(RunEvidence("s", 1, "real", 1.0, requests=tuple(records)))
    assert metrics["requests"]["success_rate"] == 0.5


def test_parse_prometheus_sums_labels():
    text = (
        "# HELP calendar_calls_total x\n"
        'calendar_calls_total{outcome="ok"} 3.0\n'
        'calendar_calls_total{outcome="retryable"} 2.0\n'
        "outbox_length 4.0\n"
    )
    values = parse_prometheus(text)
    assert values["calendar_calls_total"] == 5.0 and values["outbox_length"] == 4.0


def test_step_notes_give_each_ramp_step_its_p95_and_rate():
    from contract.evidence import Phase
    from contract.spec import parse_scenario
    from contract.step_notes import step_notes

    scenario = parse_scenario(
        """
name: ramp
description: r
load:
  users: 2
  duration_s: 4
  shape: [{at_s: 0, rate_rps: 10, phase: low}, {at_s: 2, rate_rps: 20, phase: high}]
"""
    )
    rows = [
        _row(request_id=f"r{i}", start_wall=100 + t, end_wall=100 + t + ms / 1000)
        for i, (t, ms) in enumerate([(0.1, 10), (0.5, 12), (2.1, 40), (2.5, 80)])
    ]
    records = request_records(rows, 100.0)
    notes = step_notes(scenario, records, [Phase("low", 0, 2), Phase("high", 2, 4)])
    assert notes == [
        "step low: offered 10 rps, achieved 1 rps, p95 12.0 ms, success 1.0000",
        "step high: offered 20 rps, achieved 1 rps, p95 80.0 ms, success 1.0000",
    ]
