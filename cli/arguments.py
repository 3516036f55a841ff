"""The flags of `./run_scenarios.py` (DESIGN §10): parsing them and refusing what does not go
together, before anything runs.

Owns every flag of the main job — the catalog run's, capacity planning's (`--sweep`,
`--calibrate`, `--fit` and theirs) and `--search` — and the checks between them; argparse exits 2
with the problem named. Handing the parsed run to the right part is `cli.main`'s job.
Pure apart from argparse's own printing and exit on a bad command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from capacity.calibration import DEFAULT_RATE_RPS

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_scenarios.py",
        description="Run Rehearsal's scenario catalog and write results_post.json.",
    )
    parser.add_argument("--mode", choices=["real", "sim"], default="real")
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME|PATH",
        help="a catalog scenario name or a path to a scenario file (repeatable; default: all)",
    )
    parser.add_argument("--seed", type=int, default=None, help="override every scenario's seed")
    parser.add_argument("--out", type=Path, default=ROOT / "results_post.json")
    parser.add_argument(
        "--junit", type=Path, default=None, help="JUnit XML (default: in the run folder)"
    )
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "runs")
    parser.add_argument("--report", action="store_true", help="render the HTML report afterwards")
    parser.add_argument("--list", action="store_true", help="list the catalog and exit")
    parser.add_argument("--target-url", default=None, help="test another Appointment v2 service")
    parser.add_argument("--db-url", default=None, help="the service's database (default: SQLite)")
    parser.add_argument("--api-key", default=None, help="bearer key for the service under test")
    add_planning_args(parser)
    agreement = parser.add_argument_group("mode agreement (does the twin give the live answer?)")
    agreement.add_argument(
        "--compare-modes",
        action="store_true",
        help="run the scenarios in the twin once and --real-runs times live (same seed), print "
        "each count against the real median, exit 1 when a scenario disagrees",
    )
    agreement.add_argument(
        "--real-runs", type=int, default=3, metavar="N", help="live runs to take the median of"
    )
    agreement.add_argument(
        "--from-results",
        type=Path,
        nargs="+",
        default=None,
        metavar="FILE",
        help="with --compare-modes: compare results files already written (one sim, the rest "
        "real) instead of running",
    )
    parser.add_argument(
        "--search",
        type=int,
        default=None,
        metavar="N",
        help="with --mode sim and one --scenario: try N fault timelines in the twin, shrink the "
        "first that fails and write it to scenarios/found/ (exit 1 when one is found)",
    )
    args = parser.parse_args(argv)
    if args.seed is not None and args.seed < 0:
        parser.error(f"--seed must be >= 0 (got {args.seed})")
    if args.real_runs < 1:
        parser.error(f"--real-runs must be >= 1 (got {args.real_runs})")
    if args.from_results and not args.compare_modes:
        parser.error("--from-results goes with --compare-modes")
    for path in args.from_results or ():
        if not path.is_file():
            parser.error(f"--from-results: no such file {path}")
    if args.search is not None and (
        args.search < 1 or args.mode != "sim" or len(args.scenario) != 1
    ):
        parser.error(
            f"--search needs N >= 1 (got {args.search}), --mode sim and exactly one --scenario"
        )
    return args


def add_planning_args(parser: argparse.ArgumentParser) -> None:
    """Capacity planning's flags (issue 5 §5-6):

    --sweep KEY=VALUES      (repeatable) a grid over overrides, run in the twin: capacity.sweep_command
    --workers N             sweep processes (default: all cores)
    --calibrate             healthy at 20/50/80% of --calibrate-rate, both modes: calibration_command
    --fit                   --calibrate, then fit the twin's service times and save them
    --calibrate-rate RPS    the 100% level (default: calibration.DEFAULT_RATE_RPS)
    --calibrate-repeats N   real runs per level; medians are compared (default 3)
    --real-from RUN_DIR     reuse earlier calibrations' real runs (repeatable; no stack started)
    --twin-params PATH|none fitted parameters (default: twin_params/<host>.json when present)
    """
    group = parser.add_argument_group("capacity planning with the SimPy twin")
    group.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="sweep an override over START..STOP:STEP or A,B,C (repeatable: a grid), e.g. "
        "load.rate_rps=100..3000:100; runs in the twin and writes sweep.csv and knees.json",
    )
    group.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="sweep processes (default: all cores)",
    )
    group.add_argument(
        "--calibrate",
        action="store_true",
        help="run the healthy scenario at 20/50/80%% of --calibrate-rate in both modes and "
        "print predicted vs measured p50/p95",
    )
    group.add_argument(
        "--fit",
        action="store_true",
        help="calibrate, then fit the twin's service times to the real runs and save them",
    )
    group.add_argument(
        "--calibrate-rate",
        type=float,
        default=None,
        metavar="RPS",
        help=f"the 100%% level (default: {DEFAULT_RATE_RPS:g} rps, below the knee of the 2-core "
        "real stack; the run says when its top level was saturated)",
    )
    group.add_argument(
        "--calibrate-repeats",
        type=int,
        default=3,
        metavar="N",
        help="real runs per level, interleaved; the median is compared (default: %(default)s)",
    )
    group.add_argument(
        "--real-from",
        type=Path,
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="reuse the real runs of an earlier calibration folder instead of running the stack "
        "(repeatable: the runs of several sessions together)",
    )
    group.add_argument(
        "--twin-params",
        default=None,
        metavar="PATH|none",
        help="twin parameters to use, and where --fit saves them "
        "(default: twin_params/<host>.json when it exists)",
    )


def planning_conflict(args: argparse.Namespace, argv: list[str]) -> str | None:
    """What is wrong with a planning command line (`--sweep`, `--calibrate`, `--fit`), or None."""
    if args.sweep and (args.calibrate or args.fit):
        return "--sweep and --calibrate/--fit are separate runs; give one of them"
    if args.list:
        return "--list cannot be combined with --sweep/--calibrate/--fit"
    if args.workers is not None and args.workers < 1:
        return f"--workers must be >= 1 (got {args.workers})"
    if args.sweep:
        if "--mode=real" in argv or "--mode real" in " ".join(argv):
            return "--sweep runs in the twin (sim mode); drop --mode real"
        if not args.scenario:
            return "--sweep needs --scenario NAME|PATH (the scenario to sweep)"
        return None
    if len(args.scenario) > 1:
        return "--calibrate/--fit take one --scenario (default: healthy)"
    if args.calibrate_repeats < 1:
        return f"--calibrate-repeats must be >= 1 (got {args.calibrate_repeats})"
    if args.calibrate_rate is not None and args.calibrate_rate <= 0:
        return f"--calibrate-rate must be > 0 (got {args.calibrate_rate:g})"
    return None
