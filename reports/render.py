"""Rendering: a run (or two) in, report.html + summary.md + plots/*.png out.

`render_report` is what `./run_scenarios.py --report` and `python -m reports` call. It reads every
input first (so a bad file fails before anything is drawn), draws each plot family into
`<out_dir>/plots/`, then writes the HTML (images embedded, so it opens offline on its own) and the
Markdown summary. The only files it writes or replaces are report.html (comparison.html),
summary.md and the PNGs in `<out_dir>/plots/`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reports.capacity_data import CapacitySLO, read_calibration, read_sweep
from reports.capacity_plots import plot_calibration, plot_outage_sweep, plot_sweep
from reports.comparison import metric_deltas, plot_comparison, scenario_pairs
from reports.comparison_page import comparison_html
from reports.dependency_plots import plot_breaker, plot_outbox, plot_provider_calls
from reports.figures import Plot
from reports.html_page import report_html
from reports.markdown_summary import comparison_markdown, report_markdown
from reports.request_plots import plot_latency, plot_outcomes, plot_retries
from reports.run_data import RunData, ScenarioData, load_results, load_run

#: The per-scenario plots, in page order.
SCENARIO_PLOTS: tuple[Callable[[ScenarioData, Path], Plot], ...] = (
    plot_latency,
    plot_outcomes,
    plot_provider_calls,
    plot_breaker,
    plot_outbox,
    plot_retries,
)
HTML_NAME = "report.html"
COMPARISON_NAME = "comparison.html"
MARKDOWN_NAME = "summary.md"
PLOTS_DIR = "plots"


@dataclass(frozen=True)
class ScenarioSection:
    """One scenario's data and its plots (drawn or skipped), in page order."""

    scenario: ScenarioData
    plots: tuple[Plot, ...]


@dataclass(frozen=True)
class Report:
    """Everything the HTML and Markdown are written from."""

    run: RunData
    out_dir: Path
    sections: tuple[ScenarioSection, ...]
    capacity: tuple[Plot, ...] = ()
    slo: CapacitySLO = CapacitySLO()
    calibration: pd.DataFrame | None = None


def build_report(
    results_path: str | Path,
    out_dir: str | Path,
    *,
    sweep: str | Path | None = None,
    calibration: str | Path | None = None,
    slo: CapacitySLO | None = None,
) -> Report:
    """Read the run (and the optional sweep CSV / calibration JSON) and draw every plot.

    slo defaults to `CapacitySLO()`. Raises ReportInputError naming the first file that is missing
    or malformed.
    """
    slo = slo or CapacitySLO()
    run = load_run(results_path)
    sweep_frame = read_sweep(sweep) if sweep is not None else None
    levels = read_calibration(calibration) if calibration is not None else None
    out = Path(out_dir)
    plots_dir = _fresh_plots_dir(out)
    sections = tuple(
        ScenarioSection(scenario, tuple(plot(scenario, plots_dir) for plot in SCENARIO_PLOTS))
        for scenario in run.scenarios
    )
    capacity: list[Plot] = []
    if sweep_frame is not None:
        capacity.append(plot_sweep(sweep_frame, slo, plots_dir))
        outage = plot_outage_sweep(sweep_frame, plots_dir)
        if outage.drawn:
            capacity.append(outage)
    if levels is not None:
        capacity.append(plot_calibration(levels, plots_dir))
    return Report(run, out, sections, tuple(capacity), slo, levels)


def render_report(
    results_path: str | Path,
    out_dir: str | Path,
    *,
    sweep: str | Path | None = None,
    calibration: str | Path | None = None,
    slo: CapacitySLO | None = None,
) -> Path:
    """Render the report of one run into out_dir; return the path of report.html.

    Example: `render_report("runs/<id>/results_post.json", "runs/<id>/report")`.
    """
    report = build_report(results_path, out_dir, sweep=sweep, calibration=calibration, slo=slo)
    return write_report(report)


def write_report(report: Report) -> Path:
    """Write report.html and summary.md of a built report; return the HTML's path."""
    html_path = report.out_dir / HTML_NAME
    html_path.write_text(report_html(report), encoding="utf-8")
    (report.out_dir / MARKDOWN_NAME).write_text(report_markdown(report), encoding="utf-8")
    return html_path


@dataclass(frozen=True)
class Comparison:
    """Two runs side by side: their documents, labels, verdict pairs, deltas and the chart."""

    paths: tuple[Path, Path]
    documents: tuple[dict[str, Any], dict[str, Any]]
    labels: tuple[str, str]
    pairs: pd.DataFrame
    deltas: pd.DataFrame
    plot: Plot


def build_comparison(a_path: str | Path, b_path: str | Path, out_dir: str | Path) -> Comparison:
    """Read two results files (only the documents; run folders are not needed) and compare."""
    a, b = load_results(a_path), load_results(b_path)
    labels = (a["run"]["id"], b["run"]["id"])
    if labels[0] == labels[1]:
        labels = (f"{labels[0]} ({Path(a_path).name})", f"{labels[1]} ({Path(b_path).name})")
    deltas = metric_deltas(a, b)
    plot = plot_comparison(deltas, labels, _fresh_plots_dir(Path(out_dir)))
    return Comparison(
        (Path(a_path), Path(b_path)), (a, b), labels, scenario_pairs(a, b), deltas, plot
    )


def render_comparison(a_path: str | Path, b_path: str | Path, out_dir: str | Path) -> Path:
    """Render the comparison of run A and run B into out_dir; return comparison.html's path."""
    comparison = build_comparison(a_path, b_path, out_dir)
    html_path = Path(out_dir) / COMPARISON_NAME
    html_path.write_text(comparison_html(comparison), encoding="utf-8")
    (Path(out_dir) / MARKDOWN_NAME).write_text(comparison_markdown(comparison), encoding="utf-8")
    return html_path


def _fresh_plots_dir(out_dir: Path) -> Path:
    """out_dir/plots, emptied of the PNGs of an earlier render so none is left unreferenced."""
    folder = out_dir / PLOTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    return folder
