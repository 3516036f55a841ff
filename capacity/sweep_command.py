"""`./run_scenarios.py --sweep KEY=VALUES ...`: a capacity sweep of the twin from the command line.

Owns the sequence: parse and bound the grid (`capacity.sweep_grid`), choose the twin parameters
(`capacity.params_file`: the host's fitted file when there is one), plan the tasks and run them on the
process pool with a progress line (`capacity.sweep`), then write `sweep.csv` and `knees.json` into a
run folder `runs/<run-id>/` and print the knee table (`capacity.sweep_table`). Exit codes as the
runner's: 0 the sweep ran (a knee is a finding, not a failure), 2 it could not (a bad spec, a
grid over the bound, a point the twin could not run, an interruption).
I/O: the run folder and stdout; wall clock for the progress line only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from capacity.params_file import ParamsFileError, choose_params
from capacity.sweep import SweepTaskError, plan_tasks, run_tasks
from capacity.sweep_grid import SweepSpecError, check_grid_size, parse_axes
from capacity.sweep_table import format_knees, write_knees, write_sweep
from contract.knees import find_knees
from contract.run_facts import host_name, new_run_id
from contract.spec import Scenario

PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True)
class SweepOptions:
    """A sweep as the command line asks for it."""

    axes: tuple[str, ...]  # `KEY=VALUES` specs, one per --sweep
    runs_dir: Path  # the run folder goes under it
    seed: int | None = None  # None: each scenario's own
    workers: int | None = None  # None: all cores
    twin_params: str | None = None  # a path, "none", or None for the host's saved file


def run_sweep_command(args: SweepOptions, scenarios: Sequence[Scenario]) -> int:
    """Run the sweep `args` describes over `scenarios`; return the exit code."""
    try:
        axes = parse_axes(list(args.axes))
        size = check_grid_size(axes, len(scenarios))
        chosen = choose_params(args.twin_params, host_name())
        tasks = plan_tasks(scenarios, axes, args.seed, chosen.params)
    except (SweepSpecError, ParamsFileError) as exc:
        print(f"run_scenarios.py: {exc}", file=sys.stderr)
        return 2
    run_id = new_run_id()
    run_dir: Path = args.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    shape = " x ".join(f"{len(a.values)} {a.key}" for a in axes)
    workers = args.workers or None
    print(f"rehearsal sweep {run_id}: {size} points ({shape}) of {_names(scenarios)} in the twin")
    print(f"  {chosen.describe()}")
    started = time.monotonic()
    try:
        rows = run_tasks(tasks, workers, _progress_printer(started))
    except SweepTaskError as exc:
        print(f"\nrun_scenarios.py: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nrun_scenarios.py: sweep interrupted; nothing written", file=sys.stderr)
        return 2
    wall_s = time.monotonic() - started
    knees = find_knees(rows)
    csv_path, knees_path = run_dir / "sweep.csv", run_dir / "knees.json"
    write_sweep(csv_path, rows)
    write_knees(
        knees_path,
        knees,
        {
            "scenarios": [s.name for s in scenarios],
            "seed": args.seed,
            "axes": {a.key: list(a.values) for a in axes},
            "slo": {s.name: list(s.slo) for s in scenarios},
            "twin_params": str(chosen.path) if chosen.path else "defaults",
            "points": size,
            "wall_s": round(wall_s, 1),
        },
    )
    print(f"\n{size} points in {wall_s:.1f} s. Knee per configuration (highest offered rate whose")
    print(
        "point meets the scenario's SLOs with the load delivered, below the first that does not):"
    )
    print(format_knees(knees))
    print(f"\nsweep:  {csv_path}\nknees:  {knees_path}")
    p95, success = _report_slo(scenarios[0])
    print(
        f"plot:   python -m reports RESULTS_JSON --sweep {csv_path}"
        + (f" --slo-p95-ms {p95:g}" if p95 is not None else "")
        + (f" --slo-success-rate {success:g}" if success is not None else "")
    )
    return 0


def _progress_printer(started: float) -> Callable[[int, int], None]:
    last = [started]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = now
        elapsed = now - started
        left = elapsed / done * (total - done)
        print(
            f"  [{done}/{total}] {done / total:.0%}  {elapsed:.0f} s elapsed"
            + (f", ~{left:.0f} s left" if done < total else ""),
            flush=True,
        )

    return show


def _names(scenarios: Sequence[Scenario]) -> str:
    return ", ".join(s.name for s in scenarios)


def _report_slo(scenario: Scenario) -> tuple[float | None, float | None]:
    """The scenario's whole-run p95 and success-rate gates, to give the report the same SLO."""
    p95 = success = None
    for assertion in scenario.assertions():
        if assertion.phase is not None:
            continue
        if assertion.metric == "latency_ms.p95" and assertion.op in ("<", "<="):
            p95 = assertion.threshold
        elif assertion.metric == "requests.success_rate" and assertion.op in (">", ">="):
            success = assertion.threshold
    return p95, success
