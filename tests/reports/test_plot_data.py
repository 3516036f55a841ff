"""The frames the plots are drawn from: windows, buckets, segments, histograms and knees."""

from __future__ import annotations

import math

import pandas as pd

from contract.evidence import Phase
from reports.capacity_data import CapacitySLO, knees, read_calibration
from reports.dependency_plots import breaker_segments, provider_call_rates
from reports.request_plots import latency_slos, outcome_rates, retries_per_request, rolling_latency
from tests.reports.run_fixture import write_calibration, write_sweep


def requests(rows: list[tuple[float, float, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["start_s", "latency_ms", "outcome"])


def test_rolling_latency_uses_nearest_rank_and_leaves_empty_windows_as_gaps() -> None:
    frame, window_s = rolling_latency(
        requests([(0.1, 10, "ok"), (0.2, 20, "ok"), (0.3, 30, "ok"), (3.5, 99, "ok")]), 4.0
    )
    assert window_s == 1.0
    first = frame.iloc[0]
    assert (first["window_start_s"], first["window_end_s"], first["t_s"]) == (0.0, 1.0, 0.5)
    assert (first["p50"], first["p95"], first["requests"]) == (20.0, 30.0, 3)
    empty = frame[(frame["window_start_s"] >= 1.0) & (frame["window_end_s"] <= 3.0)]
    assert not empty.empty and empty["p95"].isna().all() and (empty["requests"] == 0).all()
    assert frame["p99"].max() == 99.0


def test_outcome_rates_are_per_second_by_group() -> None:
    frame, bin_s = outcome_rates(
        requests(
            [
                (0.1, 1, "confirmed"),
                (0.5, 1, "server_error"),
                (0.7, 1, "transport_error"),
                (1.2, 1, "conflict"),
            ]
        ),
        3.0,
    )
    assert bin_s == 1.0
    assert frame.loc[0, ["confirmed", "errors (5xx, no answer)"]].tolist() == [1.0, 2.0]
    assert frame.loc[1, "other (ok, 409, 4xx)"] == 1.0


def test_breaker_segments_merge_samples_and_hold_the_last_state() -> None:
    samples = pd.DataFrame(
        {
            "t_s": [0.0, 1.0, 2.0, 3.0, 4.0],
            "breaker_state": ["closed", "closed", "open", "half_open", "closed"],
        }
    )
    frame = breaker_segments(samples, 6.0)
    assert frame.values.tolist() == [
        ["closed", 0.0, 2.0],
        ["open", 2.0, 3.0],
        ["half_open", 3.0, 4.0],
        ["closed", 4.0, 6.0],
    ]


def test_retries_count_calls_per_idempotency_key() -> None:
    calls = pd.DataFrame(
        {"idempotency_key": ["a", "a", "a", "b", None, "c"], "t_s": [0.0] * 6, "fault": [None] * 6}
    )
    assert retries_per_request(calls).values.tolist() == [[0, 2], [2, 1]]


def test_provider_call_rates_split_served_calls_from_each_fault() -> None:
    calls = pd.DataFrame({"t_s": [0.1, 0.2, 1.5, 1.6], "fault": [None, "outage", "outage", "hang"]})
    frame, _ = provider_call_rates(calls, 2.0)
    assert list(frame.columns) == ["t_s", "served", "outage", "hang"]
    assert frame.loc[1, ["served", "outage", "hang"]].tolist() == [0.0, 1.0, 1.0]


def test_latency_slos_follow_their_phase() -> None:
    entry = {
        "assertions": [
            {"metric": "latency_ms.p95", "expected": "< 300", "phase": None, "passed": True},
            {"metric": "latency_ms.p99", "expected": "<= 80", "phase": "outage", "passed": False},
            {"metric": "success_rate", "expected": ">= 0.999", "phase": None, "passed": True},
        ]
    }
    frame = latency_slos(entry, (Phase("outage", 2.0, 4.0), Phase("outage", 6.0, 7.0)))
    assert frame[["percentile", "operator", "threshold_ms", "start_s", "end_s"]].values.tolist()[
        1:
    ] == [["p99", "<=", 80.0, 2.0, 4.0], ["p99", "<=", 80.0, 6.0, 7.0]]
    assert math.isnan(frame.loc[0, "start_s"]) and frame.loc[0, "threshold_ms"] == 300.0


def test_the_knee_is_the_last_rate_before_the_first_breach(tmp_path) -> None:
    from reports.capacity_data import rate_sweep, read_sweep

    frame = knees(rate_sweep(read_sweep(write_sweep(tmp_path / "sweep.csv"))), CapacitySLO())
    assert frame[["config", "knee_rps", "first_breach_rps"]].fillna(-1).values.tolist() == [
        ["workers=2", 300.0, 400.0],
        ["workers=4", 600.0, -1.0],
    ]
    strict = knees(rate_sweep(read_sweep(tmp_path / "sweep.csv")), CapacitySLO(p95_ms=10))
    assert strict["knee_rps"].isna().all()


def test_a_rate_whose_load_was_not_delivered_is_past_the_knee(tmp_path) -> None:
    from reports.capacity_data import rate_sweep, read_sweep

    # Past saturation p95 levels off (the users wait); only achieved_rps shows the breach.
    rows = [(100, 100.0), (200, 200.0), (300, 299.0), (400, 330.0), (500, 331.0)]
    path = tmp_path / "sweep.csv"
    path.write_text(
        "config,rate_rps,p50_ms,p95_ms,p99_ms,success_rate,backlog_max,retries_per_request,"
        "achieved_rps\n"
        + "".join(f"c,{rate},5,20,30,1.0,0,0,{achieved}\n" for rate, achieved in rows)
    )
    frame = knees(rate_sweep(read_sweep(path)), CapacitySLO())
    assert frame[["knee_rps", "first_breach_rps"]].values.tolist() == [[300.0, 400.0]]


def test_a_sweep_that_carries_its_verdict_is_judged_by_it_not_by_the_report_gates(tmp_path) -> None:
    from reports.capacity_data import rate_sweep, read_sweep

    # The twin's sweeps write each point's SLO verdict (the scenario's own SLOs): the knee is
    # where that verdict breaks, the one knees.json has, whatever --slo-p95-ms the report draws.
    path = tmp_path / "sweep.csv"
    path.write_text(
        "config,rate_rps,p50_ms,p95_ms,p99_ms,success_rate,backlog_max,retries_per_request,"
        "achieved_rps,slo_passed,failed_slos\n"
        "c,100,5,400,500,1.0,0,0,100,true,\n"  # p95 over the report's 300 ms: the sweep's SLO held
        "c,200,5,420,500,1.0,0,0,200,true,\n"
        "c,300,5,20,30,1.0,0,0,300,false,outbox.backlog_final == 0\n"  # a gate the report lacks
    )
    frame = knees(rate_sweep(read_sweep(path)), CapacitySLO())
    assert frame[["knee_rps", "first_breach_rps", "judged_by"]].values.tolist() == [
        [200.0, 300.0, "sweep"]
    ]


def test_calibration_error_is_sim_against_real(tmp_path) -> None:
    levels = read_calibration(write_calibration(tmp_path / "calibration.json"))
    assert levels["rate_rps"].tolist() == [50.0, 150.0, 300.0]
    assert round(levels.loc[2, "p95_error"], 4) == round((31.0 - 40.3) / 40.3, 4)
    assert levels.attrs["scenario"] == "healthy"
