"""`./run_scenarios.py --compare-modes`: does the twin agree with the live stack? (DESIGN §8)

Runs the chosen scenarios once in the twin and `--real-runs` times (default 3) against the live
stack with the same seed, then holds each scenario's counts — requests by outcome, calendar
calls, breaker openings, dead letters — against the median of the real runs
(`contract.mode_agreement`: within max(3, 10%), or a scenario's declared `agreement:`
tolerance). Prints the table, writes it to the run folder as `mode_agreement.json` (beside each
run's results), and exits 0 when every scenario agrees, 1 when one does not, 2 when the harness
could not run. `--from-results FILE...` compares results files already written instead (one
sim, the rest real).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from contract.mode_agreement import ScenarioAgreement, Tolerance, compare, render
from contract.results import read_results
from contract.spec import Scenario


def tolerances_of(scenarios: Sequence[Scenario]) -> dict[str, dict[str, Tolerance]]:
    return {s.name: s.agreement.tolerances() for s in scenarios if s.agreement is not None}


def compare_files(paths: Sequence[Path], scenarios: Sequence[Scenario]) -> list[ScenarioAgreement]:
    """The agreement of results files already written: exactly one of them in sim mode."""
    documents = [(path, read_results(path)) for path in paths]
    sims = [doc for path, doc in documents if doc["run"]["mode"] == "sim"]
    reals = [doc for path, doc in documents if doc["run"]["mode"] == "real"]
    if len(sims) != 1 or not reals:
        raise ValueError(
            f"--from-results needs one sim-mode results file and at least one real-mode one "
            f"(got {len(sims)} sim, {len(reals)} real)"
        )
    names = {s.name for s in scenarios}
    sim_entries = [e for e in sims[0]["scenarios"] if not names or e["name"] in names]
    return compare(sim_entries, [doc["scenarios"] for doc in reals], tolerances_of(scenarios))


def run_compare_modes(
    args: argparse.Namespace,
    scenarios: Sequence[Scenario],
    run_dir: Path,
    progress: Callable[[str], None],
) -> int:
    """Run both modes and compare; returns the exit code."""
    from cli.sim_mode import run_all_sim
    from scenarios.real_runner import RealRunOptions, run_all_real

    both = [s for s in scenarios if "real" in s.modes and "sim" in s.modes]
    skipped = sorted({s.name for s in scenarios} - {s.name for s in both})
    if skipped:
        print(f"  not compared (not declared for both modes): {', '.join(skipped)}")
    print("twin (sim mode):")
    sim_entries, _ = run_all_sim(both, args.seed, run_dir / "sim", progress)
    real_runs: list[list[dict[str, Any]]] = []
    options = RealRunOptions(args.db_url, args.target_url, args.api_key)
    for number in range(1, args.real_runs + 1):
        print(f"live stack, run {number} of {args.real_runs}:")
        entries, _ = run_all_real(both, options, args.seed, run_dir / f"real-{number}", progress)
        real_runs.append(entries)
    table = compare(sim_entries, real_runs, tolerances_of(both))
    return report(table, run_dir)


def report(table: Sequence[ScenarioAgreement], run_dir: Path | None) -> int:
    print()
    print(render(table))
    if run_dir is not None:
        path = run_dir / "mode_agreement.json"
        path.write_text(json.dumps([as_json(s) for s in table], indent=1) + "\n")
        print(f"\nagreement table: {path}")
    return 0 if all(s.agrees for s in table) else 1


def as_json(scenario: ScenarioAgreement) -> dict[str, Any]:
    return {
        "scenario": scenario.scenario,
        "agrees": scenario.agrees,
        "counts": [
            {
                "count": row.count,
                "sim": row.sim,
                "real": list(row.real),
                "real_median": row.median,
                "agrees": row.agrees,
                "real_repeats": row.real_repeats,
                "tolerance": {
                    "absolute": row.tolerance.absolute,
                    "relative": row.tolerance.relative,
                    "reason": row.tolerance.reason,
                },
            }
            for row in scenario.rows
        ],
    }
