"""SLO assertions: parsing (and its errors), nearest-rank percentiles, whole-run and per-phase."""

from __future__ import annotations

import pytest

from contract.assertions import (
    AssertionSyntaxError,
    evaluate_assertion,
    evaluate_assertions,
    metric_paths,
    parse_assertion,
)
from contract.evidence import Phase, percentile
from tests.contract.builders import appointment, clean_evidence, record, with_changes


def test_percentile_is_nearest_rank_on_a_hand_computed_case() -> None:
    # n = 5: rank = ceil(p/100 * 5). p30 → 2, p40 → 2, p50 → 3, p95 → 5, p100 → 5.
    values = [35, 20, 50, 15, 40]
    assert [percentile(values, p) for p in (5, 30, 40, 50, 95, 100)] == [15, 20, 20, 35, 50, 50]


def test_percentile_of_one_to_a_hundred_is_the_rank_itself() -> None:
    values = list(range(100, 0, -1))
    assert [percentile(values, p) for p in (50, 95, 99, 99.9)] == [50, 95, 99, 100]
    assert percentile([], 95) is None
    with pytest.raises(ValueError, match=r"\(0, 100\]"):
        percentile(values, 0)


@pytest.mark.parametrize(
    ("expression", "metric", "phase", "op", "threshold"),
    [
        ("latency_ms.p95 < 300", "latency_ms.p95", None, "<", 300),
        ("latency_ms.p95[phase=outage] < 50", "latency_ms.p95", "outage", "<", 50),
        ("latency_ms.p95 [ phase = outage ]<50", "latency_ms.p95", "outage", "<", 50),
        ("success_rate >= 0.999", "requests.success_rate", None, ">=", 0.999),
        ("calendar.duplicate_bookings == 0", "calendar.duplicate_bookings", None, "==", 0),
        ("outbox.backlog_final == 0", "outbox.backlog_final", None, "==", 0),
        ("retries.per_request_max <= 5", "retries.per_request_max", None, "<=", 5),
        ("requests.by_outcome.conflict > 0", "requests.by_outcome.conflict", None, ">", 0),
        ("circuit_breaker.open_seconds != 1e1", "circuit_breaker.open_seconds", None, "!=", 10),
    ],
)
def test_the_k6_like_expressions_parse(
    expression: str, metric: str, phase: str | None, op: str, threshold: float
) -> None:
    parsed = parse_assertion(expression)
    assert (parsed.metric, parsed.phase, parsed.op, parsed.threshold) == (
        metric,
        phase,
        op,
        threshold,
    )


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("latency_ms.p95", "needs a comparison"),
        ("latency_ms.p95 < 300 < 400", "more than one comparison"),
        ("latency_ms.p95 < fast", "must be a number (got 'fast')"),
        (
            "latancy_ms.p95 < 300",
            "unknown metric 'latancy_ms.p95' (did you mean 'latency_ms.p95'?)",
        ),
        ("latency_ms.p95[stage=outage] < 50", "must read [phase=NAME]"),
        ("calendar.duplicate_bookings[phase=outage] == 0", "is a whole-run metric"),
        ("p95 of latency < 3", "is not a metric path"),
    ],
)
def test_a_bad_expression_is_named_with_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(AssertionSyntaxError) as caught:
        parse_assertion(expression)
    assert f"SLO '{expression}'" in str(caught.value)
    assert message in str(caught.value)


def test_every_metric_block_key_is_an_assertable_path() -> None:
    paths = metric_paths()
    assert "success_rate" in paths and "requests.by_outcome.transport_error" in paths
    assert "requests.by_outcome" not in paths


def phased_evidence():
    """Latencies 10..100 ms outside the outage phase [2, 4) and 500, 600 ms inside it."""
    states = [appointment(i) for i in range(12)]
    rows = [
        record(f"r{i}", states[i], start_s=5 + i * 0.1, latency_ms=10 * (i + 1)) for i in range(10)
    ]
    rows += [
        record("slow-1", states[10], start_s=2.0, latency_ms=500),
        record("slow-2", states[11], start_s=3.9, latency_ms=600),
        record("boundary", None, start_s=4.0, latency_ms=5, http_status=503),
    ]
    return with_changes(clean_evidence(), requests=tuple(rows), phases=(Phase("outage", 2, 4),))


def test_whole_run_assertions_use_all_requests() -> None:
    evidence = phased_evidence()
    # 13 latencies sorted: 5, 10..100, 500, 600; p95 rank = ceil(12.35) = 13 → 600.
    results = evaluate_assertions(
        [parse_assertion(e) for e in ("latency_ms.p95 < 601", "latency_ms.p50 <= 60")], evidence
    )
    assert [(r.actual, r.passed) for r in results] == [(600, True), (60, True)]
    (rate,) = evaluate_assertions([parse_assertion("success_rate >= 0.999")], evidence)
    assert rate.actual == pytest.approx(12 / 13) and not rate.passed
    assert rate.expected == ">= 0.999"


def test_a_phase_selects_requests_that_started_in_its_window() -> None:
    evidence = phased_evidence()
    result = evaluate_assertion(parse_assertion("latency_ms.p95[phase=outage] < 550"), evidence)
    assert (result.actual, result.passed, result.phase) == (600, False, "outage")
    total = evaluate_assertion(parse_assertion("requests.total[phase=outage] == 2"), evidence)
    assert total.passed  # the request at t = 4.0 is outside [2, 4)
    rps = evaluate_assertion(parse_assertion("requests.rps[phase=outage] == 1"), evidence)
    assert rps.passed


def test_nothing_to_judge_fails_rather_than_passes() -> None:
    evidence = phased_evidence()
    unrecorded = evaluate_assertion(parse_assertion("latency_ms.p95[phase=crash] < 50"), evidence)
    assert not unrecorded.passed and "phase 'crash' was not recorded" in unrecorded.detail
    empty = with_changes(evidence, phases=(Phase("outage", 20, 30),))
    no_requests = evaluate_assertion(parse_assertion("latency_ms.p95[phase=outage] < 50"), empty)
    assert no_requests.actual is None and not no_requests.passed
    assert "no request started" in no_requests.detail
    unmeasured = with_changes(evidence, calendar_attempts=None)
    per_request = evaluate_assertion(parse_assertion("retries.per_request_max <= 5"), unmeasured)
    assert not per_request.passed and "not measured" in per_request.detail


@pytest.mark.parametrize(
    ("op", "passes"),
    [("<", False), ("<=", True), (">", False), (">=", True), ("==", True), ("!=", False)],
)
def test_every_operator_compares_actual_to_threshold(op: str, passes: bool) -> None:
    result = evaluate_assertion(
        parse_assertion(f"calendar.duplicate_bookings {op} 0"), clean_evidence()
    )
    assert result.actual == 0 and result.passed is passes
