"""`python -m reports`: render a run's report, or compare two runs.

    python -m reports RESULTS_JSON [--out DIR] [--sweep CSV] [--calibration JSON]
                      [--slo-p95-ms MS] [--slo-success-rate R]
    python -m reports A.json B.json [--out DIR]

Writes report.html (comparison.html), summary.md and plots/*.png into DIR (default: `report/`, or
`comparison/`, beside the first results file) and prints their paths. Exit codes: 0 rendered,
2 a missing or malformed input (the message names the file, and the line where it has lines) or
bad arguments. A run whose scenarios failed still renders with exit 0: the verdict is
run_scenarios.py's to give.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reports.capacity_data import CapacitySLO
from reports.errors import ReportInputError
from reports.render import MARKDOWN_NAME, PLOTS_DIR, render_comparison, render_report


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line; argparse exits 2 on bad arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m reports",
        description="Render the HTML report of a Rehearsal run, or compare two runs (A B).",
    )
    parser.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS_JSON",
        help="results_post.json; give two to compare run A with run B",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="output folder (default: report/ or comparison/ beside the results)",
    )
    parser.add_argument(
        "--sweep",
        type=Path,
        default=None,
        metavar="CSV",
        help="a capacity sweep to plot (format: reports/capacity_data.py)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        default=None,
        metavar="JSON",
        help="sim vs real latency levels to plot (format: reports/capacity_data.py)",
    )
    parser.add_argument(
        "--slo-p95-ms",
        type=float,
        metavar="MS",
        default=CapacitySLO.p95_ms,
        help="the sweep's latency SLO (default: %(default)s)",
    )
    parser.add_argument(
        "--slo-success-rate",
        type=float,
        metavar="RATE",
        default=CapacitySLO.success_rate,
        help="the sweep's success-rate SLO (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if len(args.results) > 2:
        parser.error(f"give one results file, or two to compare (got {len(args.results)})")
    if len(args.results) == 2 and (args.sweep or args.calibration):
        parser.error("--sweep and --calibration belong to a one-run report, not a comparison")
    if args.slo_p95_ms <= 0 or not 0 <= args.slo_success_rate <= 1:
        parser.error("--slo-p95-ms must be > 0 and --slo-success-rate within 0..1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    first = args.results[0]
    comparing = len(args.results) == 2
    out = args.out or first.parent / ("comparison" if comparing else "report")
    try:
        if comparing:
            html = render_comparison(args.results[0], args.results[1], out)
        else:
            slo = CapacitySLO(p95_ms=args.slo_p95_ms, success_rate=args.slo_success_rate)
            html = render_report(
                first, out, sweep=args.sweep, calibration=args.calibration, slo=slo
            )
    except ReportInputError as exc:
        print(f"python -m reports: {exc}", file=sys.stderr)
        return 2
    print(f"report:  {html}\nsummary: {out / MARKDOWN_NAME}\nplots:   {out / PLOTS_DIR}/")
    return 0
