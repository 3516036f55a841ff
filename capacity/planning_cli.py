"""The command line of the twin's planning jobs: `--sweep`, `--calibrate`, `--fit` (issue 5 §5-6).

Owns these flags and sending a run to the sweep or the calibration; `scenarios.cli` only adds
the flags to its parser and hands over when one is given, so the catalog run's own options stay
where they are. Flags:

    --sweep KEY=VALUES      (repeatable) a grid over overrides, run in the twin: capacity/sweep_command
    --workers N             sweep processes (default: all cores)
    --calibrate             healthy at 20/50/80% of --calibrate-rate, both modes: calibration_command
    --fit                   --calibrate, then fit the twin's service times and save them
    --calibrate-rate RPS    the 100% level (default: calibration.DEFAULT_RATE_RPS)
    --calibrate-repeats N   real runs per level; medians are compared (default 3)
    --real-from RUN_DIR     reuse earlier calibrations' real runs (repeatable; no stack started)
    --twin-params PATH|none fitted parameters (default: twin_params/<host>.json when present)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from capacity.calibration import DEFAULT_RATE_RPS
from contract.spec import Scenario, ScenarioError


def add_planning_args(parser: argparse.ArgumentParser) -> None:
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


def run_planning(
    args: argparse.Namespace,
    argv: list[str],
    choose_scenarios: Callable[[list[str], str], list[Scenario]],
) -> int:
    """Run the planning job `args` asks for; return the exit code (2: could not run)."""
    problem = _conflict(args, argv)
    if problem:
        print(f"run_scenarios.py: {problem}", file=sys.stderr)
        return 2
    try:
        scenarios = choose_scenarios(args.scenario or ["healthy"], "sim")
    except ScenarioError as exc:
        print(f"run_scenarios.py: {exc}", file=sys.stderr)
        return 2
    if args.sweep:
        from capacity.sweep_command import run_sweep_command

        return run_sweep_command(args, scenarios)
    from capacity.calibration_command import run_calibration_command

    return run_calibration_command(args, scenarios)


def _conflict(args: argparse.Namespace, argv: list[str]) -> str | None:
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
