"""Shared fixtures: one real run folder (two runs for comparisons), rendered once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from reports.render import Report, build_report, write_report
from tests.reports.run_fixture import write_calibration, write_run, write_sweep


@dataclass(frozen=True)
class Rendered:
    """A run folder and the report rendered from it."""

    results: Path
    slower_results: Path
    report: Report
    out: Path
    html: str
    markdown: str


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    root = tmp_path_factory.mktemp("runs")
    results = write_run(root)
    slower = write_run(root, run_id="run-b", latency_scale=1.6, revision="def5678")
    out = root / "report"
    # build_report + write_report is render_report, keeping the plots' data for the tests.
    report = build_report(
        results,
        out,
        sweep=write_sweep(root / "sweep.csv"),
        calibration=write_calibration(root / "calibration.json"),
    )
    html_path = write_report(report)
    return Rendered(
        results=results,
        slower_results=slower,
        report=report,
        out=out,
        html=html_path.read_text(encoding="utf-8"),
        markdown=(out / "summary.md").read_text(encoding="utf-8"),
    )
