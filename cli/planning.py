"""Handing a planning run to capacity planning: `--sweep`, `--calibrate`, `--fit` (issue 5 §5-6).

Owns turning the parsed flags into capacity's plain options (`SweepOptions`,
`CalibrationOptions`, with the real runner's `RealRunOptions`) and choosing the scenario; the
flags themselves are `cli.arguments`'. Exit codes as the runner's (2: could not run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from capacity.calibration_command import CalibrationOptions, run_calibration_command
from capacity.sweep_command import SweepOptions, run_sweep_command
from cli.arguments import planning_conflict
from contract.spec import Scenario, ScenarioError
from scenarios.real_runner import RealRunOptions


def run_planning(
    args: argparse.Namespace,
    argv: list[str],
    choose_scenarios: Callable[[list[str], str], list[Scenario]],
) -> int:
    """Run the planning job `args` asks for; return the exit code (2: could not run)."""
    problem = planning_conflict(args, argv)
    if problem:
        print(f"run_scenarios.py: {problem}", file=sys.stderr)
        return 2
    try:
        scenarios = choose_scenarios(args.scenario or ["healthy"], "sim")
    except ScenarioError as exc:
        print(f"run_scenarios.py: {exc}", file=sys.stderr)
        return 2
    if args.sweep:
        sweep = SweepOptions(
            axes=tuple(args.sweep),
            runs_dir=args.runs_dir,
            seed=args.seed,
            workers=args.workers,
            twin_params=args.twin_params,
        )
        return run_sweep_command(sweep, scenarios)
    calibration = CalibrationOptions(
        runs_dir=args.runs_dir,
        seed=args.seed,
        fit=args.fit,
        calibrate_rate=args.calibrate_rate,
        calibrate_repeats=args.calibrate_repeats,
        real_from=tuple(args.real_from),
        twin_params=args.twin_params,
        real=RealRunOptions(args.db_url, args.target_url, args.api_key),
    )
    return run_calibration_command(calibration, scenarios)
