"""Calibration: the comparison's arithmetic, the JSON the report reads, the service-log
breakdown, both fitting steps on synthetic data with known answers, the params file, and the
twin (and the commands) running on loaded parameters. No live stack: the real side is synthetic
or a saved `calibration_real.json`."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from capacity.calibration import (
    Level,
    LevelComparison,
    RunLatency,
    calibration_document,
    error_pct,
    format_comparison,
    level_duration_s,
    level_percentiles,
    level_scenario,
    level_stats,
    plan_levels,
    run_from_json,
    run_json,
    run_scenario_for,
    saturation_note,
    within_target,
)
from capacity.calibration_command import Measured, merge_measured, read_real_runs, real_runs_json
from capacity.calibration_fit import (
    apply_knobs,
    estimate_from_breakdown,
    fit_levels,
    level_loss,
    nelder_mead,
)
from capacity.params_file import (
    ParamsFileError,
    choose_params,
    host_params_path,
    load_params,
    params_document,
    save_params,
)
from capacity.service_log_breakdown import Breakdown, summarize
from cli.main import main as cli_main
from contract.spec import parse_scenario
from reports.capacity_data import read_calibration
from sim.config import TwinParams
from sim.twin import simulate

PROBE = parse_scenario(
    """
name: fit_probe
description: creates and reads
seed: 5
load: {users: 10, rate_rps: 20, duration_s: 2, mix: {create: 3, get: 1}, resources: 20}
drain_s: 1
"""
)


def _run(name: str, *latencies: float) -> RunLatency:
    return RunLatency(name, tuple(latencies))


# -- the comparison -------------------------------------------------------------------------------


def test_error_is_predicted_minus_measured_over_measured() -> None:
    assert error_pct(predicted=11.0, measured=10.0) == pytest.approx(10.0)
    assert error_pct(predicted=8.0, measured=10.0) == pytest.approx(-20.0)
    assert error_pct(predicted=0.0, measured=0.0) == 0.0
    assert math.isinf(error_pct(predicted=1.0, measured=0.0))


def test_levels_are_fractions_of_the_configured_rate() -> None:
    assert [(lv.label, lv.rate_rps) for lv in plan_levels(50)] == [
        ("20%", 10.0),
        ("50%", 25.0),
        ("80%", 40.0),
    ]
    with pytest.raises(ValueError, match="must be > 0"):
        plan_levels(0)


def test_each_level_and_repeat_is_its_own_scenario_long_enough_for_a_p95() -> None:
    levels = plan_levels(50)
    assert level_duration_s(PROBE, levels) == 20.0  # 200 requests at 10 rps
    assert level_duration_s(PROBE, plan_levels(5000)) == 2.0  # the scenario's own, when longer
    assert level_duration_s(PROBE, levels, warmup_s=1.0) == 21.0  # 200 after the warm-up
    scenario = level_scenario(PROBE, levels[1], 2, 20.0)
    assert scenario.name == "fit_probe-50pct-r2"
    assert (scenario.load.rate_rps, scenario.load.duration_s) == (25.0, 20.0)
    assert scenario.load.mix == PROBE.load.mix


def test_a_level_is_the_median_of_its_runs() -> None:
    level = Level(0.5, 25.0)
    real = (
        _run("a", *range(1, 21)),  # p50 10, p95 19
        _run("b", *range(101, 121)),  # a run that met someone's test suite: p50 110, p95 119
        _run("c", *range(3, 23)),  # p50 12, p95 21
    )
    sim = (_run("a", *[12.0] * 20), _run("b", *[14.0] * 20), _run("c"))  # c: nothing finished
    comparison = LevelComparison(level, real, sim)
    assert (comparison.real_p50_ms, comparison.real_p95_ms) == (12, 21)
    assert level_percentiles(real) == (12, 21) and level_percentiles(sim) == (13, 13)
    assert comparison.p50_error_pct == pytest.approx((13 - 12) / 12 * 100)
    assert comparison.p95_error_pct == pytest.approx((13 - 21) / 21 * 100)
    with pytest.raises(ValueError, match="no sim requests"):
        LevelComparison(level, real, (_run("a"),))


def test_requests_of_the_warm_up_are_left_out_of_a_run_on_both_sides() -> None:
    # The same scenario in the twin: the real side reads its records the same way.
    evidence = simulate(PROBE, seed=1)
    whole = RunLatency.from_records("x", evidence.requests)
    warm = RunLatency.from_records("x", evidence.requests, warmup_s=1.0)
    late = [r for r in evidence.requests if r.start_s >= 1.0]
    assert 0 < warm.requests == len(late) < whole.requests
    assert warm.latencies_ms == tuple(r.latency_ms for r in late)
    assert warm.operations == tuple(r.operation.value for r in late)


def test_a_saturated_top_level_is_pointed_out() -> None:
    def level(rate: float, p50: float) -> LevelComparison:
        return LevelComparison(Level(rate / 100, rate), (_run("r", p50),), (_run("s", p50),))

    assert saturation_note([level(20, 6.0), level(50, 7.0), level(80, 17.0)]) is None
    note = saturation_note([level(20, 6.0), level(50, 7.0), level(80, 50.0)])
    assert note is not None
    assert "saturated at 80 rps" in note and "8.3x" in note and "--calibrate-rate" in note


def test_level_stats_add_each_operation_with_enough_requests() -> None:
    creates = RunLatency("a", tuple(range(1, 41)), None, ("create",) * 40)
    gets = RunLatency("b", (1.0,) * 10, None, ("get",) * 10)  # too few for a p95
    stats = level_stats([creates, gets])
    # "all": the median of the two runs' own; "create": its 40 requests' own.
    assert stats == {"all": (10.5, 19.5), "create": (20, 38)}


def test_the_target_is_p95_within_20_percent_at_every_level() -> None:
    def level(sim_p95: float) -> LevelComparison:
        return LevelComparison(Level(0.2, 10), (_run("r", 100.0),), (_run("s", sim_p95),))

    assert within_target([level(120.0), level(80.0)])
    assert not within_target([level(120.0), level(79.0)])
    table = format_comparison([level(120.0), level(79.0)])
    assert table.count("p95 off target") == 1 and "-21.0%" in table and "+20.0%" in table


def test_the_calibration_json_is_what_the_report_reads(tmp_path: Path) -> None:
    levels = [
        LevelComparison(Level(0.2, 10), (_run("r1", 8, 9, 30),), (_run("s1", 7, 8, 27),)),
        LevelComparison(Level(0.8, 40), (_run("r2", 10, 12, 40),), (_run("s2", 11, 13, 44),)),
    ]
    document = calibration_document("healthy", levels, {"host": "h", "target_met": True})
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(document))
    frame = read_calibration(path)
    assert frame.attrs["scenario"] == "healthy"
    assert frame["rate_rps"].tolist() == [10.0, 40.0]
    assert frame["real_p95_ms"].tolist() == [30.0, 40.0]
    assert frame["p95_error"].tolist() == pytest.approx([-0.1, 0.1])
    assert document["levels"][0]["p95_error_pct"] == -10.0
    assert document["levels"][1]["real_runs"] == [
        {"scenario": "r2", "p50_ms": 12, "p95_ms": 40, "requests": 3}
    ]


def test_real_runs_round_trip_through_their_file(tmp_path: Path) -> None:
    levels = tuple(plan_levels(50))
    real = {
        lv.fraction: [
            RunLatency(f"fit_probe-{i}", (1.5, 2.25, 9.0), (0.5, 0.25, 0.125), ("get",) * 3)
        ]
        for i, lv in enumerate(levels)
    }
    breakdown = Breakdown(3, {"calendar_ms": 4.0}, {"get": 2.0}, {"get": 3.0}, {"get": 3})
    measured = Measured(PROBE, levels, 20.0, 5, real, dict.fromkeys(real, breakdown))
    (tmp_path / "calibration_real.json").write_text(json.dumps(real_runs_json(measured)))
    assert read_real_runs(tmp_path, PROBE) == measured
    assert read_real_runs(tmp_path, PROBE, seed=9).seed == 9
    assert measured.load_span() == ((0.5, 0.25, 0.125), (0.5, 0.25, 0.125))
    assert run_from_json(run_json(real[0.2][0], with_latencies=True)) == real[0.2][0]
    with pytest.raises(ValueError, match="calibrated 'fit_probe', not 'other'"):
        read_real_runs(tmp_path, PROBE.model_copy(update={"name": "other"}))
    with pytest.raises(ValueError, match="no calibration_real.json there"):
        read_real_runs(tmp_path / "nowhere", PROBE)
    # A folder from before the warm-up kept every request: read back as such, and the twin
    # then keeps every request too.
    document = real_runs_json(measured)
    del document["warmup_s"]
    (tmp_path / "calibration_real.json").write_text(json.dumps(document))
    assert read_real_runs(tmp_path, PROBE).warmup_s == 0.0


def test_sessions_merge_into_one_measurement() -> None:
    levels = tuple(plan_levels(50))

    def session(latency: float, calendar_ms: float) -> Measured:
        real = {lv.fraction: [_run(f"r{lv.fraction}", latency)] for lv in levels}
        breakdown = Breakdown(10, {"calendar_ms": calendar_ms}, counts={"get": 4})
        return Measured(PROBE, levels, 20.0, 5, real, dict.fromkeys(real, breakdown))

    merged = merge_measured([session(1.0, 2.0), session(2.0, 3.0), session(9.0, 10.0)])
    assert [r.p50_ms for r in merged.real[0.2]] == [1.0, 2.0, 9.0]
    assert merged.breakdowns[0.2] == Breakdown(30, {"calendar_ms": 3.0}, counts={"get": 12})
    other = dataclasses.replace(session(1.0, 2.0), duration_s=10.0)
    with pytest.raises(ValueError, match="the sessions differ"):
        merge_measured([session(1.0, 2.0), other])
    older = dataclasses.replace(session(1.0, 2.0), warmup_s=0.0)
    with pytest.raises(ValueError, match="duration, seed or warm-up"):
        merge_measured([session(1.0, 2.0), older])


# -- the service log ------------------------------------------------------------------------------


def test_the_breakdown_takes_medians_from_the_service_log_and_the_event_log() -> None:
    created = [
        {"msg": "appointment create answered", "status": 201, "db_txn1_ms": d1,
         "calendar_ms": cal, "db_txn2_ms": d2, "total_ms": tot}
        for d1, cal, d2, tot in [(2, 4, 2, 10), (3, 5, 2, 12), (2, 40, 9, 60)]
    ]  # fmt: skip
    access = [
        {"msg": "request", "method": "POST", "route": "/v1/appointments", "status": 201, "latency_ms": v}
        for v in (11, 13, 70)
    ] + [
        {"msg": "request", "method": "GET", "route": "/v1/appointments/{appointment_id}",
         "status": 200, "latency_ms": 2},
        {"msg": "request", "method": "GET", "route": "/v1/appointments/{appointment_id}",
         "status": 500, "latency_ms": 900},  # a 5xx is not a service time
        {"msg": "request", "method": "GET", "route": "/healthz", "status": 200, "latency_ms": 1},
        {"msg": "appointment create answered", "status": 202, "db_txn1_ms": 1},  # not a 201
    ]  # fmt: skip
    events = [{"operation": "create", "http_status": 201, "latency_ms": v} for v in (12, 15, 80)]
    events += [{"operation": "get", "http_status": 200, "latency_ms": 3.5}]
    events += [{"operation": "get", "http_status": None, "latency_ms": 10_000}]  # no answer
    breakdown = summarize([*created, *access], events)
    assert breakdown.creates == 3
    assert breakdown.create_parts == {
        "db_txn1_ms": 2, "calendar_ms": 5, "db_txn2_ms": 2, "total_ms": 12
    }  # fmt: skip
    assert breakdown.server_ms == {"create": 13, "get": 2}
    assert breakdown.client_ms == {"create": 15, "get": 3.5}
    # client − server per operation, weighted by requests: (2·3 + 1.5·1) / 4
    assert breakdown.client_overhead_ms() == pytest.approx(1.875)
    assert Breakdown.from_json(json.loads(json.dumps(breakdown.as_json()))) == breakdown


# -- fitting --------------------------------------------------------------------------------------


def _breakdown_of(p: TwinParams) -> Breakdown:
    """What the service's logs would say, unloaded, if the twin's structure were the truth."""
    w, r, prov, s = p.db_write_ms, p.db_read_ms, p.provider_rtt_ms, p.cpu_slice_ms
    server = {
        "create": p.cpu_create_ms + 2 * w + prov + s,
        "reschedule": p.cpu_reschedule_ms + 2 * w + prov + s,
        "cancel": p.cpu_cancel_ms + w,
        "get": p.cpu_get_ms + r,
        "list": p.cpu_list_ms + r,
    }
    return Breakdown(
        creates=100,
        create_parts={"db_txn1_ms": w, "calendar_ms": prov, "db_txn2_ms": s + w},
        server_ms=server,
        client_ms={op: v + p.client_rtt_ms for op, v in server.items()},
        counts=dict.fromkeys(server, 10),
    )


def test_step_one_recovers_known_costs_from_the_logs_they_would_write() -> None:
    truth = TwinParams(
        client_rtt_ms=1.7,
        provider_rtt_ms=3.9,
        cpu_create_ms=6.1,
        cpu_get_ms=1.4,
        cpu_list_ms=2.6,
        cpu_cancel_ms=2.2,
        cpu_reschedule_ms=9.5,
        db_write_ms=1.8,
        db_read_ms=1.8 * 0.15 / 0.4,  # a read keeps the defaults' ratio to a write
    )
    estimate, notes = estimate_from_breakdown(_breakdown_of(truth), TwinParams())
    assert notes == []
    for f in dataclasses.fields(TwinParams):
        assert getattr(estimate, f.name) == pytest.approx(getattr(truth, f.name), abs=1e-3), f.name


def test_step_one_keeps_what_the_logs_do_not_show_and_says_so() -> None:
    estimate, notes = estimate_from_breakdown(Breakdown(server_ms={"get": 3.0}), TwinParams())
    assert estimate.cpu_get_ms == pytest.approx(3.0 - TwinParams().db_read_ms)
    assert estimate.cpu_create_ms == TwinParams().cpu_create_ms
    assert any("no create breakdown" in n for n in notes)
    assert any("cpu_create_ms kept" in n for n in notes)
    assert any("client_rtt_ms kept" in n for n in notes)


def test_nelder_mead_finds_a_known_minimum() -> None:
    x, value, evaluations = nelder_mead(
        lambda v: (v[0] - 1.5) ** 2 + 10 * (v[1] + 0.5) ** 2 + (v[2] - 2) ** 4,
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        max_evaluations=600,
        tolerance=1e-12,
    )
    assert x[:2] == pytest.approx([1.5, -0.5], abs=1e-3) and x[2] == pytest.approx(2, abs=0.05)
    assert value < 1e-5 and evaluations <= 600


def test_step_two_recovers_known_knobs_of_a_model_with_a_known_answer() -> None:
    start = TwinParams(cpu_create_ms=4.0, db_write_ms=2.0, provider_rtt_ms=3.0, cpu_sigma=0.3)
    load = (0.1, 0.5, 1.0)  # how much each level's queueing stretches CPU

    def model(p: TwinParams) -> list[dict[str, tuple[float, float]]]:
        stretch = math.exp(1.645 * p.cpu_sigma)
        return [
            {"all": (p.cpu_create_ms * (1 + u) + p.db_write_ms + p.provider_rtt_ms,
                     p.cpu_create_ms * (1 + u) * stretch + 2 * p.db_write_ms + p.provider_rtt_ms)}
            for u in load
        ]  # fmt: skip

    knobs = {"cpu_factor": 2.0, "db_factor": 0.5, "net_factor": 1.5, "cpu_sigma": 0.6}
    measured = model(apply_knobs(start, knobs))
    # The levels alone (no pull toward the start): the data determine all four knobs.
    fit = fit_levels(start, measured, model, max_evaluations=2000, prior_weight=0, tolerance=1e-14)
    for name, value in knobs.items():
        assert fit.knobs[name] == pytest.approx(value, rel=0.05), name
    assert level_loss(model(fit.params), measured) < 1e-3


def test_step_two_brings_the_twin_onto_runs_of_a_twin_with_other_costs() -> None:
    start = TwinParams(cpu_create_ms=3.0, cpu_get_ms=1.0, db_write_ms=1.0, db_read_ms=0.3)
    truth = apply_knobs(
        start, {"cpu_factor": 2.0, "db_factor": 1.0, "net_factor": 1.0, "cpu_sigma": 0.5}
    )
    levels = plan_levels(60.0)

    def predict(params: TwinParams) -> list[dict[str, tuple[float, float]]]:
        out = []
        for lv in levels:
            scenario = run_scenario_for(PROBE, lv.rate_rps, 2.0, f"fit_probe-{lv.rate_rps:g}")
            evidence = simulate(scenario, 5, params=params)
            out.append(level_stats([RunLatency.from_records("x", evidence.requests)]))
        return out

    measured = predict(truth)
    # Per operation where enough requests: the creates always; the gets (a quarter of the mix)
    # when the seed's draws give them MIN_OPERATION_REQUESTS.
    assert {"all", "create"} <= set(measured[-1]) <= {"all", "create", "get"}
    before = predict(start)
    assert any(
        abs(error_pct(b["all"][1], m["all"][1])) > 20 for b, m in zip(before, measured, strict=True)
    )
    fit = fit_levels(start, measured, predict, max_evaluations=90)
    for predicted, real in zip(predict(fit.params), measured, strict=True):
        (p50, p95), (real50, real95) = predicted["all"], real["all"]
        assert abs(error_pct(p95, real95)) < 10 and abs(error_pct(p50, real50)) < 10
    assert fit.knobs["cpu_factor"] == pytest.approx(2.0, rel=0.35)


# -- the params file ------------------------------------------------------------------------------


def test_params_round_trip_through_their_file(tmp_path: Path) -> None:
    fitted = TwinParams(cpu_create_ms=9.25, db_write_ms=1.5, cpu_sigma=0.7)
    path = host_params_path("ci runner/3", tmp_path)
    assert path == tmp_path / "ci_runner_3.json"
    save_params(path, params_document(fitted, host="ci", fitted_at="t", source="s", fit={"k": 1}))
    assert load_params(path) == fitted
    assert json.loads(path.read_text())["fit"] == {"k": 1}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "not valid JSON"),
        ('{"cpu_create_ms": 3}', 'must be an object with a "params" object'),
        ('{"params": {"cpu_speed": 3}}', "unknown twin parameter(s) cpu_speed"),
        ('{"params": {"cpu_create_ms": -1}}', "twin.cpu_create_ms must be a number >= 0"),
        ('{"params": {"cpu_workers": 1.5}}', "params.cpu_workers must be a whole number"),
    ],
)
def test_a_bad_params_file_is_refused_naming_it(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(ParamsFileError) as caught:
        load_params(path)
    assert str(path) in str(caught.value) and expected in str(caught.value)


def test_the_hosts_saved_params_are_chosen_when_present(tmp_path: Path) -> None:
    assert choose_params(None, "box", tmp_path).path is None  # nothing saved: the defaults
    fitted = TwinParams(cpu_create_ms=7.0)
    save_params(host_params_path("box", tmp_path), {"params": {"cpu_create_ms": 7.0}})
    chosen = choose_params(None, "box", tmp_path)
    assert chosen.params == fitted and chosen.path == tmp_path / "box.json"
    assert str(tmp_path / "box.json") in chosen.describe()
    assert choose_params("none", "box", tmp_path).params == TwinParams()
    with pytest.raises(ParamsFileError, match="no such twin parameters file"):
        choose_params(str(tmp_path / "missing.json"), "box", tmp_path)


def test_the_twin_runs_on_loaded_params(tmp_path: Path) -> None:
    path = tmp_path / "slow.json"
    save_params(path, {"params": {"cpu_create_ms": 20.0, "cpu_get_ms": 20.0, "cpu_sigma": 0.0}})
    default = simulate(PROBE, 5)
    loaded = simulate(PROBE, 5, params=load_params(path))
    assert min(r.latency_ms for r in loaded.requests) > 20.0
    assert max(r.latency_ms for r in default.requests) < 20.0


# -- the command, on saved real runs --------------------------------------------------------------


def test_calibrate_and_fit_from_saved_runs_then_the_twin_predicts_with_the_saved_file(
    tmp_path: Path, capsys
) -> None:
    """The whole command without a stack: 'real' runs are a twin with slower costs; --fit
    brings the twin within the target and saves the file; --calibrate with that file agrees."""
    truth = TwinParams(cpu_create_ms=5.0, cpu_get_ms=1.5, db_write_ms=1.2, cpu_sigma=0.45)
    scenario_file = tmp_path / "fit_probe.yaml"
    scenario_file.write_text(
        "name: fit_probe\ndescription: creates and reads\nseed: 5\n"
        "load: {users: 10, rate_rps: 20, duration_s: 2, mix: {create: 3, get: 1}, resources: 20}\n"
        "drain_s: 1\n"
    )
    levels = tuple(plan_levels(100.0))
    real = {}
    for lv in levels:
        scenario = level_scenario(PROBE, lv, 1, 2.0)
        evidence = simulate(scenario, 5, params=truth)
        real[lv.fraction] = [RunLatency.from_records(scenario.name, evidence.requests)]
    measured = Measured(PROBE, levels, 2.0, 5, real, dict.fromkeys(real, Breakdown()))
    folder = tmp_path / "measured"
    folder.mkdir()
    (folder / "calibration_real.json").write_text(json.dumps(real_runs_json(measured)))
    saved = tmp_path / "fitted.json"
    common = ["--scenario", str(scenario_file), "--real-from", str(folder)]
    common += ["--runs-dir", str(tmp_path / "runs"), "--twin-params", str(saved)]
    assert cli_main([*common, "--fit"]) == 0
    out = capsys.readouterr().out
    assert "p95 off target" in out.split("fitted (")[0]  # the defaults were off
    assert f"saved:  {saved}" in out and "p95 within ±20% at every level: met" in out
    assert load_params(saved).cpu_create_ms > TwinParams().cpu_create_ms
    assert cli_main([*common, "--calibrate"]) == 0
    out = capsys.readouterr().out
    assert f"twin params: {saved}" in out and "off target" not in out
    (first, second) = sorted((tmp_path / "runs").iterdir())
    document = json.loads((second / "calibration.json").read_text())
    assert document["twin_params"] == str(saved) and document["target_met"] is True
    assert read_calibration(second / "calibration.json")["p95_error"].abs().max() <= 0.2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--calibrate", "--calibrate-repeats", "0"], "--calibrate-repeats must be >= 1"),
        (["--calibrate", "--calibrate-rate", "-5"], "--calibrate-rate must be > 0"),
        (["--fit", "--scenario", "healthy", "--scenario", "outage"], "take one --scenario"),
        (["--calibrate", "--real-from", "/nonexistent"], "no calibration_real.json there"),
        (["--calibrate", "--twin-params", "/nonexistent.json"], "no such twin parameters file"),
    ],
)
def test_the_cli_refuses_a_bad_calibration_with_exit_2(
    argv: list[str], expected: str, tmp_path: Path, capsys
) -> None:
    assert cli_main([*argv, "--runs-dir", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err
