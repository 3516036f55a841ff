"""`./run_scenarios.py`: the command line of the main job (DESIGN §10), the top floor.

Owns choosing scenarios (loaded with their `settings:` checked against the service's own,
`sim.service_settings.settings_problems`, which the contract's loader cannot import), picking the
mode and handing the work to the real runner (`scenarios.real_runner`), the twin
(`cli.sim_mode`), capacity planning (`cli.planning`) or the report; the run folder, progress and
the summary table; and the exit code: 0 every scenario passed, 1 an assertion or invariant
failed, 2 the harness itself could not run (a bad scenario file or setting, a port taken, a
process that did not start, an interruption).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cli.arguments import parse_args
from contract.junit import write_junit
from contract.results import RunInfo, build_results, exit_code, write_results
from contract.run_facts import git_revision, host_name, new_run_id, timestamp
from contract.spec import Scenario, ScenarioError, load_catalog, load_scenario
from contract.spec.loader import Problem
from scenarios.real_runner import HarnessError, TerminationRequested, install_sigterm_handler

# The service's settings, checked on load for both modes (the contract's loader cannot know them).
from sim.service_settings import settings_problems

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "scenarios" / "catalog"


def choose_scenarios(names: list[str], mode: str) -> list[Scenario]:
    catalog = {s.name: s for s in load_catalog(CATALOG, settings_problems)}
    if not names:
        return [s for s in catalog.values() if mode in s.modes]
    chosen = []
    for name in names:
        if name in catalog:
            chosen.append(catalog[name])
        elif Path(name).suffix in (".yaml", ".yml") or Path(name).exists():
            chosen.append(load_scenario(Path(name), settings_problems))
        else:
            known = ", ".join(sorted(catalog))
            raise ScenarioError(
                name,
                [Problem(None, "", f"no such scenario in the catalog ({known}) and no such file")],
            )
    return chosen


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.sweep or args.calibrate or args.fit:
        from cli.planning import run_planning

        return run_planning(args, argv, choose_scenarios)
    if args.search is not None:
        from capacity.search_output import run_search_command

        try:
            (scenario,) = choose_scenarios(args.scenario, "sim")
        except ScenarioError as exc:
            print(f"run_scenarios.py: {exc}", file=sys.stderr)
            return 2
        command = " ".join(["./run_scenarios.py", *argv])
        return run_search_command(
            scenario, args.search, args.seed, ROOT / "scenarios" / "found", _progress, command
        )
    if args.compare_modes and args.from_results:
        from cli.compare_modes import compare_files, report

        try:
            chosen = choose_scenarios(args.scenario, "sim") if args.scenario else []
            return report(compare_files(args.from_results, chosen), None)
        except (ScenarioError, ValueError) as exc:
            print(f"run_scenarios.py: {exc}", file=sys.stderr)
            return 2
    try:
        if args.list:
            for scenario in load_catalog(CATALOG, settings_problems):
                modes = ",".join(scenario.modes)
                print(f"{scenario.name:32} [{modes}] {scenario.description}")
            return 0
        scenarios = choose_scenarios(args.scenario, args.mode)
    except ScenarioError as exc:
        print(f"run_scenarios.py: {exc}", file=sys.stderr)
        return 2
    if not scenarios:
        print(f"run_scenarios.py: no scenario runs in {args.mode} mode", file=sys.stderr)
        return 2
    install_sigterm_handler()
    run_id = new_run_id()
    run_dir = args.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    # Every child inherits this, so anyone can find (and a test can prove gone) a run's processes.
    os.environ["RUN_SCENARIOS_RUN_DIR"] = str(run_dir)
    started_at = timestamp()
    t0 = time.monotonic()
    print(
        f"rehearsal run {run_id}: {len(scenarios)} scenario(s), mode {args.mode}, folder {run_dir}"
    )
    if args.compare_modes:
        from cli.compare_modes import run_compare_modes

        try:
            return run_compare_modes(args, scenarios, run_dir, _progress)
        except HarnessError as exc:
            print(f"\nrun_scenarios.py: the harness could not run: {exc}", file=sys.stderr)
            return 2
        except (KeyboardInterrupt, TerminationRequested):
            print(
                "\nrun_scenarios.py: interrupted; every child process was stopped", file=sys.stderr
            )
            return 2
    try:
        if args.mode == "sim":
            from cli.sim_mode import run_all_sim

            entries, notes = run_all_sim(scenarios, args.seed, run_dir, _progress)
        else:
            from scenarios.real_runner import RealRunOptions, run_all_real

            options = RealRunOptions(args.db_url, args.target_url, args.api_key)
            entries, notes = run_all_real(scenarios, options, args.seed, run_dir, _progress)
    except HarnessError as exc:
        print(f"\nrun_scenarios.py: the harness could not run: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"run_scenarios.py: {args.mode} mode is not available: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, TerminationRequested):
        print("\nrun_scenarios.py: interrupted; every child process was stopped", file=sys.stderr)
        return 2
    run = RunInfo(
        id=run_id,
        mode=args.mode,
        seed=args.seed if args.seed is not None else scenarios[0].seed,
        started_at=started_at,
        duration_s=round(time.monotonic() - t0, 3),
        git_revision=git_revision(),
        host=host_name(),
    )
    document = build_results(run, entries)
    write_results(args.out, document)
    write_results(run_dir / "results_post.json", document)
    junit_path = args.junit or run_dir / "junit.xml"
    write_junit(junit_path, document)
    print_summary(document, notes)
    print(f"\nresults: {args.out}\njunit:   {junit_path}\nrun:     {run_dir}")
    if args.report:
        try:
            from reports.render import render_report
        except ImportError:
            print("report: the report renderer is not built yet (issue: reports)", file=sys.stderr)
        else:
            from reports.errors import ReportInputError

            try:
                print(f"report:  {render_report(args.out, run_dir / 'report')}")
            except ReportInputError as exc:
                print(f"report: could not be rendered: {exc}", file=sys.stderr)
    return exit_code(document)


def _progress(message: str) -> None:
    print(f"  {message}", flush=True)


def print_summary(document: dict, notes: dict[str, list[str]]) -> None:
    print("\n" + "-" * 96)
    print(
        f"{'scenario':28} {'verdict':7} {'reqs':>6} {'p95 ms':>8} {'success':>8} {'dupes':>5} "
        f"{'backlog':>7}  failed checks"
    )
    for s in document["scenarios"]:
        failed = [a["expression"] for a in s["assertions"] if not a["passed"]]
        failed += [i["name"] for i in s["invariants"] if not i["passed"]]
        p95 = s["latency_ms"]["p95"]
        rate = s["requests"]["success_rate"]
        print(
            f"{s['name']:28} {'PASS' if s['passed'] else 'FAIL':7} {s['requests']['total']:>6} "
            f"{'-' if p95 is None else f'{p95:.1f}':>8} "
            f"{'-' if rate is None else f'{rate:.4f}':>8} "
            f"{s['calendar']['duplicate_bookings']:>5} "
            f"{'-' if s['outbox']['backlog_final'] is None else s['outbox']['backlog_final']:>7}  "
            f"{'; '.join(failed)}"
        )
        for note in notes.get(s["name"], []):
            print(f"{'':28} note: {note}")
    counts = document["summary"]["counts"]
    print("-" * 96)
    print(f"{counts['passed']}/{counts['scenarios']} passed")
