"""Capacity sweeps: the grid grammar and its errors, plain picklable tasks, the table the report
reads, the knee where the model puts it, and the same table for the same seed."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle
import re
from pathlib import Path

import pytest

from capacity.sweep import TABLE_COLUMNS, offered_rate, plan_tasks, run_task, run_tasks
from capacity.sweep_grid import (
    MAX_GRID_POINTS,
    SweepSpecError,
    build_grid,
    check_grid_size,
    parse_axes,
    parse_axis,
)
from capacity.sweep_table import encode_csv, format_knees, write_sweep
from cli.main import main as cli_main
from contract.knees import find_knees
from contract.spec import parse_scenario
from reports.capacity_data import CapacitySLO, knees, read_sweep
from sim.config import TwinParams

# Creates only, CPU-bound, no spread: one event loop at cpu_create_ms per create saturates at
# 1000 / cpu_create_ms requests a second (125 rps at 8 ms, 250 at 4 ms).
PROBE = """
name: knee_probe
description: creates only; p95 breaks as the service's CPU saturates
seed: 3
load: {users: 40, rate_rps: 50, duration_s: 3, mix: {create: 1}, resources: 40}
drain_s: 1
slo:
  - latency_ms.p95 < 50
  - success_rate >= 0.999
"""
PROBE_PARAMS = TwinParams(cpu_create_ms=8.0, cpu_sigma=0.0)
PROBE_AXES = ["load.rate_rps=40..240:40", "twin.cpu_create_ms=8,4"]


# -- the grid grammar ---------------------------------------------------------------------------


def test_a_range_includes_its_stop_and_keeps_ints() -> None:
    axis = parse_axis("load.rate_rps=100..3000:100")
    assert axis.key == "load.rate_rps"
    assert axis.values[:3] == (100, 200, 300) and axis.values[-1] == 3000
    assert len(axis.values) == 30 and all(type(v) is int for v in axis.values)


def test_a_decimal_range_has_no_float_drift_and_stop_may_fall_between_steps() -> None:
    assert parse_axis("twin.cpu_sigma=0.1..0.3:0.1").values == (0.1, 0.2, 0.3)
    assert parse_axis("load.rate_rps=10..35:10").values == (10, 20, 30)
    assert parse_axis("load.users=3..5").values == (3, 4, 5)  # step 1 by default


def test_lists_and_single_values_read_as_yaml_scalars() -> None:
    assert parse_axis("settings.retry_max_attempts=2,3,5").values == (2, 3, 5)
    assert parse_axis("settings.protect_outbox=true,False").values == (True, False)
    assert parse_axis("twin.cpu_create_ms=1.5").values == (1.5,)
    assert parse_axis("settings.profile= legacy , v2").values == ("legacy", "v2")


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("load.rate_rps", ["no '='"]),
        ("=1,2", ["'' is not a dotted key"]),
        ("load..rate=1", ["'load..rate' is not a dotted key"]),
        ("load.rate_rps=", ["no values"]),
        ("load.rate_rps=100..x:10", ["stop 'x' is not a number"]),
        ("load.rate_rps=abc..300", ["start 'abc' is not a number"]),
        ("load.rate_rps=100..300:fast", ["step 'fast' is not a number"]),
        ("load.rate_rps=100..300:0", ["step must be > 0"]),
        ("load.rate_rps=300..100:10", ["runs backwards"]),
        ("load.rate_rps=1,,2", ["empty item"]),
        ("load.rate_rps=1,2,1", ["listed twice"]),
        ("load.rate_rps=1..100000:1", ["100000 values", str(MAX_GRID_POINTS)]),
    ],
)
def test_a_bad_spec_is_refused_naming_the_bad_part(spec: str, names: list[str]) -> None:
    with pytest.raises(SweepSpecError) as caught:
        parse_axis(spec)
    message = str(caught.value)
    assert f"'{spec}'" in message
    for name in names:
        assert name in message


def test_a_key_swept_twice_is_refused() -> None:
    with pytest.raises(SweepSpecError, match="'load.users' is swept twice"):
        parse_axes(["load.users=1,2", "load.users=3"])


def test_the_grid_is_the_product_with_the_rate_varying_fastest() -> None:
    axes = parse_axes(["load.rate_rps=10,20,30", "settings.retry_max_attempts=2,3"])
    grid = build_grid(axes)
    assert len(grid) == 6 == check_grid_size(axes)
    assert grid[:3] == [
        {"settings.retry_max_attempts": 2, "load.rate_rps": 10},
        {"settings.retry_max_attempts": 2, "load.rate_rps": 20},
        {"settings.retry_max_attempts": 2, "load.rate_rps": 30},
    ]


def test_a_grid_over_the_bound_is_refused_with_its_shape_and_what_to_do() -> None:
    axes = parse_axes(["load.rate_rps=1..1000", "settings.retry_max_attempts=1..6"])
    with pytest.raises(SweepSpecError) as caught:
        check_grid_size(axes)
    message = str(caught.value)
    assert "6000 points" in message and "1000 load.rate_rps x 6 settings" in message
    assert f"limit is {MAX_GRID_POINTS}" in message and "Widen a step" in message
    assert check_grid_size(parse_axes(["load.rate_rps=1..1000"]), copies=5) == 5000
    with pytest.raises(SweepSpecError, match="x 6 scenarios"):
        check_grid_size(parse_axes(["load.rate_rps=1..1000"]), copies=6)


# -- tasks ----------------------------------------------------------------------------------------


def test_the_task_list_is_plain_picklable_json_data() -> None:
    scenario = parse_scenario(PROBE)
    tasks = plan_tasks([scenario], parse_axes(PROBE_AXES), None, PROBE_PARAMS)
    assert len(tasks) == 12
    assert [t.index for t in tasks] == list(range(12))
    assert pickle.loads(pickle.dumps(tasks)) == tasks
    plain = [dataclasses.asdict(t) for t in tasks]
    assert json.loads(json.dumps(plain)) == plain  # what a cluster engine would be handed
    first = tasks[0]
    assert first.seed == 3 and first.config == "twin.cpu_create_ms=8"
    assert first.overrides == {"twin.cpu_create_ms": 8, "load.rate_rps": 40}
    assert first.params["cpu_create_ms"] == 8.0
    # A worker given the dict form computes the same row.
    assert run_task(plain[0]) == run_task(first)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "settings.no_such_setting=1,2",
            "--sweep settings.no_such_setting=1: settings.no_such_setting is not a setting of the",
        ),
        (
            "settings.retry_max_attemps=2",
            "settings.retry_max_attemps is not a setting of the service (did you mean "
            "'retry_max_attempts'?)",
        ),
        (
            "settings.retry_max_attempts=2,2.5",
            "--sweep settings.retry_max_attempts=2.5: settings.retry_max_attempts must be a "
            "whole number (got 2.5)",
        ),
        ("settings.deadline_ms=-5", "settings.deadline_ms must be > 0 (got -5.0)"),
        ("twin.no_such_param=1", "no twin parameter 'no_such_param'"),
        ("load.rate_rps=0,10", "load.rate_rps=0 does not apply to scenario 'knee_probe'"),
        ("load.nonsense=3", "load.nonsense=3 does not apply"),
    ],
)
def test_a_key_or_value_the_scenario_refuses_fails_before_anything_runs(
    spec: str, expected: str
) -> None:
    with pytest.raises(SweepSpecError, match=re.escape(expected)):
        plan_tasks([parse_scenario(PROBE)], parse_axes([spec]), None, PROBE_PARAMS)


def test_the_offered_rate_of_a_shape_is_its_time_weighted_mean() -> None:
    ramp = parse_scenario(
        "name: ramp\ndescription: d\nload:\n  duration_s: 10\n  shape:\n"
        "    - {at_s: 0, rate_rps: 20}\n    - {at_s: 4, rate_rps: 50}\n"
        "    - {at_s: 9, rate_rps: 90}\n"
    )
    assert offered_rate(ramp) == pytest.approx((20 * 4 + 50 * 5 + 90 * 1) / 10)
    assert offered_rate(parse_scenario(PROBE)) == 50.0


# -- a tiny sweep, end to end ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_rows() -> list[dict]:
    tasks = plan_tasks([parse_scenario(PROBE)], parse_axes(PROBE_AXES), None, PROBE_PARAMS)
    return run_tasks(tasks, workers=2)  # the process pool


def test_the_knee_sits_below_the_cpu_limit_and_moves_with_it(probe_rows: list[dict]) -> None:
    found = {k.config: k for k in find_knees(probe_rows)}
    slow, fast = found["twin.cpu_create_ms=8"], found["twin.cpu_create_ms=4"]
    # 8 ms a create saturates at 125 rps: the highest swept rate below it holds, the next does
    # not (its p95 breaks the 50 ms gate and the users fall behind).
    assert (slow.knee_rps, slow.first_breach_rps) == (120.0, 160.0)
    assert slow.p95_ms is not None and slow.p95_ms < 50
    assert "latency_ms.p95 < 50" in slow.breach and "delivered" in slow.breach
    # Twice the CPU speed: 250 rps; every swept rate holds.
    assert (fast.knee_rps, fast.first_breach_rps, fast.breach) == (240.0, None, "")
    table = format_knees(list(found.values()))
    assert "twin.cpu_create_ms=8" in table and "SLO failed: latency_ms.p95 < 50" in table


def test_the_csv_is_what_the_report_reads_with_the_same_knee(
    probe_rows: list[dict], tmp_path: Path
) -> None:
    path = tmp_path / "sweep.csv"
    write_sweep(path, probe_rows)
    header = path.read_text().splitlines()[0].split(",")
    assert tuple(header[: len(TABLE_COLUMNS)]) == TABLE_COLUMNS
    assert {"twin.cpu_create_ms", "load.rate_rps", "slo_passed", "achieved_rps"} <= set(header)
    frame = read_sweep(path)
    assert len(frame) == 12
    ours = {k.config: k for k in find_knees(probe_rows)}
    # The report judges the points by the sweep's own verdict, whatever gates it draws: even a
    # far looser --slo-p95-ms marks the knees knees.json has.
    for slo in (CapacitySLO(p95_ms=50, success_rate=0.999), CapacitySLO(p95_ms=5000)):
        report = knees(frame, slo).set_index("config")
        for config, knee in ours.items():
            got = report.loc[config, ["knee_rps", "first_breach_rps"]].tolist()
            assert [None if math.isnan(v) else v for v in got] == [
                knee.knee_rps,
                knee.first_breach_rps,
            ]
        assert set(report["judged_by"]) == {"sweep"}


def test_the_same_seed_gives_the_same_table_in_one_process_or_many(probe_rows: list[dict]) -> None:
    tasks = plan_tasks([parse_scenario(PROBE)], parse_axes(PROBE_AXES), None, PROBE_PARAMS)
    assert encode_csv(run_tasks(tasks, workers=1)) == encode_csv(probe_rows)
    other = plan_tasks([parse_scenario(PROBE)], parse_axes(PROBE_AXES), 4, PROBE_PARAMS)
    assert encode_csv(run_tasks(other[:2], workers=1)) != encode_csv(probe_rows[:2])


# -- the command line -----------------------------------------------------------------------------


def test_the_cli_runs_a_sweep_into_a_run_folder(tmp_path: Path, capsys) -> None:
    scenario = tmp_path / "knee_probe.yaml"
    scenario.write_text(PROBE)
    params = tmp_path / "slow.json"
    params.write_text(json.dumps({"params": {"cpu_create_ms": 8.0, "cpu_sigma": 0.0}}))
    code = cli_main(
        [
            "--scenario", str(scenario),
            "--sweep", "load.rate_rps=40..160:40",
            "--runs-dir", str(tmp_path / "runs"),
            "--twin-params", str(params),
            "--workers", "2",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert f"twin params: {params}" in out and "4 points (4 load.rate_rps)" in out
    assert "[4/4] 100%" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    knees_doc = json.loads((run_dir / "knees.json").read_text())
    assert knees_doc["knees"][0]["knee_rps"] == 120.0 and knees_doc["twin_params"] == str(params)
    assert read_sweep(run_dir / "sweep.csv")["rate_rps"].tolist() == [40, 80, 120, 160]
    assert "--slo-p95-ms 50 --slo-success-rate 0.999" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--scenario", "healthy", "--sweep", "load.rate_rps=1..x"], "stop 'x' is not a number"),
        (["--sweep", "load.rate_rps=10,20"], "--sweep needs --scenario"),
        (
            ["--scenario", "healthy", "--mode", "real", "--sweep", "load.users=1"],
            "drop --mode real",
        ),
        (["--scenario", "healthy", "--sweep", "load.users=1", "--calibrate"], "separate runs"),
        (
            [
                "--scenario",
                "healthy",
                "--sweep",
                "load.rate_rps=1..3000",
                "--sweep",
                "load.users=1,2",
            ],
            "the grid has 6000 points",
        ),
    ],
)
def test_the_cli_refuses_a_bad_sweep_with_exit_2(
    argv: list[str], expected: str, tmp_path: Path, capsys
) -> None:
    assert cli_main([*argv, "--runs-dir", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing ran, no run folder
