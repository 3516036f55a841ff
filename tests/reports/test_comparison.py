"""Comparison mode: two runs side by side, with the metric deltas (B − A)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.cli import main
from reports.comparison import metric_deltas
from tests.reports.conftest import Rendered


def test_the_comparison_shows_both_runs_and_the_deltas(
    rendered: Rendered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(rendered.results), str(rendered.slower_results), "--out", str(tmp_path)]) == 0
    assert f"report:  {tmp_path / 'comparison.html'}" in capsys.readouterr().out
    page = (tmp_path / "comparison.html").read_text()
    summary = (tmp_path / "summary.md").read_text()
    a, b = (json.loads(p.read_text()) for p in (rendered.results, rendered.slower_results))
    p95 = {doc["run"]["id"]: doc["scenarios"][1]["latency_ms"]["p95"] for doc in (a, b)}
    delta = p95["run-b"] - p95["run-a"]
    assert delta > 0
    row = (
        f'<tr><td>latency p95 (ms)</td><td class="num">{p95["run-a"]:.1f}</td>'
        f'<td class="num">{p95["run-b"]:.1f}</td><td class="num"><span class="worse">'
        f"+{delta:.1f}</span></td>"
    )
    assert row in page.split("<h3>outage</h3>")[1]
    assert (
        f"| outage | latency p95 (ms) | {p95['run-a']:.1f} | {p95['run-b']:.1f} | +{delta:.1f} |"
        in summary
    )
    assert "<td>git revision</td><td>abc1234</td><td>def5678</td>" in page
    assert 'data-file="plots/comparison.png"' in page
    assert (tmp_path / "plots" / "comparison.png").stat().st_size > 1000


def test_deltas_say_which_way_is_better_and_leave_unmatched_scenarios_out(
    rendered: Rendered,
) -> None:
    a = json.loads(rendered.results.read_text())
    b = json.loads(rendered.slower_results.read_text())
    b["scenarios"] = b["scenarios"][1:]
    b["scenarios"][0]["requests"]["success_rate"] = 0.99
    deltas = metric_deltas(a, b).set_index("metric")
    assert set(deltas["scenario"]) == {"outage"}
    assert deltas.loc["latency_ms.p95", "assessment"] == "worse"
    assert deltas.loc["requests.success_rate", "assessment"] == "worse"
    assert deltas.loc["requests.total", "assessment"] == ""
    assert deltas.loc["calendar.duplicate_bookings", "assessment"] == "same"
    assert isinstance(deltas.loc["requests.total", "a"], int)
    improved = metric_deltas(b, a).set_index("metric")
    assert improved.loc["latency_ms.p95", "assessment"] == "better"
