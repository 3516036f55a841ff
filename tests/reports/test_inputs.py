"""Bad input: every missing or malformed file is named (with its line), and the CLI exits 2."""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import pytest

from reports.capacity_data import read_calibration, read_sweep
from reports.cli import main
from reports.errors import ReportInputError
from reports.run_data import load_run
from tests.reports.conftest import Rendered


def copy_run(rendered: Rendered, tmp_path: Path) -> Path:
    """A copy of the fixture run whose results point into the copy."""
    run_dir = tmp_path / "run-a"
    shutil.copytree(rendered.results.parent, run_dir)
    results = run_dir / "results_post.json"
    document = json.loads(results.read_text())
    for scenario in document["scenarios"]:
        scenario["event_log"] = str(run_dir / scenario["name"] / "events.jsonl")
        scenario["time_series"] = str(run_dir / scenario["name"] / "timeseries.jsonl")
    results.write_text(json.dumps(document))
    return results


def test_a_results_file_that_is_not_json_is_named_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "results_post.json"
    bad.write_text('{"schema_version": "1.0", ')
    assert main([str(bad), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert f"{bad}: cannot be read as JSON" in error
    assert not (tmp_path / "out" / "report.html").exists()


def test_a_results_file_off_the_schema_says_where(rendered: Rendered, tmp_path: Path) -> None:
    document = json.loads(rendered.results.read_text())
    del document["scenarios"][1]["latency_ms"]
    bad = tmp_path / "results_post.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(
        ReportInputError, match=r"(?s)results_post\.json: .*\$\.scenarios\[1\].*latency_ms"
    ):
        load_run(bad)


def test_a_missing_results_file_exits_2_from_python_m_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "results_post.json"
    monkeypatch.setattr(sys, "argv", ["python -m reports", str(missing)])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("reports", run_name="__main__")
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "No such file" in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object (got list)"),
        ('{"t_s": 1.0}', "not a MetricSample"),
        (
            '{"t_s": "soon", "outbox_length": 0, "breaker_state": "closed", "retries_total": 0, '
            '"calendar_calls_total": 0}',
            "t_s must be a number",
        ),
        (
            '{"t_s": 1.0, "outbox_length": 0, "breaker_state": "ajar", "retries_total": 0, '
            '"calendar_calls_total": 0}',
            "breaker_state must be one of closed, open, half_open (got 'ajar')",
        ),
    ],
)
def test_a_bad_jsonl_line_is_named_with_its_number(
    rendered: Rendered, tmp_path: Path, line: str, reason: str
) -> None:
    results = copy_run(rendered, tmp_path)
    series = results.parent / "outage" / "timeseries.jsonl"
    lines = series.read_text().splitlines()
    lines[2] = line
    series.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReportInputError) as caught:
        load_run(results)
    assert str(caught.value).startswith(f"{series}, line 3: ")
    assert reason in str(caught.value)


def test_a_bad_event_log_line_exits_2_naming_file_and_line(
    rendered: Rendered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = copy_run(rendered, tmp_path)
    events = results.parent / "healthy" / "events.jsonl"
    lines = events.read_text().splitlines()
    lines[9] = lines[9][:40]
    events.write_text("\n".join(lines) + "\n")
    assert main([str(results), "--out", str(tmp_path / "out")]) == 2
    assert f"{events}, line 10: not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name", ["phases.json", "provider_calls.jsonl", "events.jsonl", "timeseries.jsonl"]
)
def test_a_missing_run_folder_file_is_named(rendered: Rendered, tmp_path: Path, name: str) -> None:
    results = copy_run(rendered, tmp_path)
    (results.parent / "outage" / name).unlink()
    with pytest.raises(ReportInputError) as caught:
        load_run(results)
    assert str(results.parent / "outage" / name) in str(caught.value)


def test_a_malformed_phases_file_is_named(rendered: Rendered, tmp_path: Path) -> None:
    results = copy_run(rendered, tmp_path)
    phases = results.parent / "outage" / "phases.json"
    phases.write_text('[{"name": "outage", "start_s": 5, "end_s": 2}]')
    with pytest.raises(ReportInputError, match=r"phases\.json: phase \[0\]: end_s 2 is before"):
        load_run(results)


def test_results_copied_with_their_run_folder_still_find_its_files(
    rendered: Rendered, tmp_path: Path
) -> None:
    results = copy_run(rendered, tmp_path)
    document = json.loads(results.read_text())
    for scenario in document["scenarios"]:  # as the runner writes them under the project root
        scenario["event_log"] = f"runs/elsewhere/{scenario['name']}/events.jsonl"
        scenario["time_series"] = f"runs/elsewhere/{scenario['name']}/timeseries.jsonl"
    results.write_text(json.dumps(document))
    run = load_run(results)
    assert [s.folder for s in run.scenarios] == [
        results.parent / "healthy",
        results.parent / "outage",
    ]


def test_a_bad_sweep_csv_names_file_line_and_column(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.csv"
    header = "config,rate_rps,p50_ms,p95_ms,p99_ms,success_rate,backlog_max,retries_per_request\n"
    sweep.write_text(header + "a,100,1,2,3,1.0,0,0\na,200,1,fast,3,1.0,0,0\n")
    with pytest.raises(
        ReportInputError,
        match=r"sweep\.csv, line 3: column p95_ms must be a "
        r"number \(got 'fast'\)",
    ):
        read_sweep(sweep)
    sweep.write_text("config,rate_rps\na,100\n")
    with pytest.raises(ReportInputError, match=r"sweep\.csv: missing column\(s\) p50_ms"):
        read_sweep(sweep)
    sweep.write_text(header + "a,100,,,,1.0,,0\n")
    with pytest.raises(ReportInputError, match=r"line 2: column backlog_max .*an empty cell"):
        read_sweep(sweep)


def test_a_bad_calibration_names_the_level(tmp_path: Path) -> None:
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps({"levels": [{"rate_rps": 50, "sim_p50_ms": 1}]}))
    with pytest.raises(ReportInputError, match=r"calibration\.json: levels\[0\]\.sim_p95_ms"):
        read_calibration(calibration)


def test_sweep_and_calibration_are_refused_in_a_comparison(
    rendered: Rendered, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([str(rendered.results), str(rendered.slower_results), "--sweep", "x.csv"])
    assert exited.value.code == 2
    assert "belong to a one-run report" in capsys.readouterr().err
