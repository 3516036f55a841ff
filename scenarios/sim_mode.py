"""Sim mode: each scenario run in the SimPy twin, in virtual time, judged like a real run.

Owns the sim side of `./run_scenarios.py --mode sim`: for each scenario, `sim.simulate_run`
(load plus drain window, nothing sleeps), then the run folder exactly as docs/run_folder.md says
— `events.jsonl`, `timeseries.jsonl`, `phases.json`, `provider_calls.jsonl` under
`run_dir/<scenario>/` — and `judge_scenario` (mode "sim") for the results entry, printing each
scenario's digest (the sha256 of its event log) so two runs can be compared. Everything in an
entry is a function of (scenario, seed): `duration_s` is the virtual run length, not wall time;
only the run's own stamps (its id, start, wall duration) differ between two runs.
I/O: the run folder only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scenarios.evidence import RunEvidence, write_atomic, write_jsonl
from scenarios.results import judge_scenario
from scenarios.spec import Scenario
from sim import simulate_run

ROOT = Path(__file__).resolve().parents[1]


def run_all_sim(
    scenarios: list[Scenario],
    seed_override: int | None,
    run_dir: Path,
    progress: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Run every scenario in the twin; return their results entries and notes by name."""
    entries: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    for number, scenario in enumerate(scenarios, 1):
        seed = seed_override if seed_override is not None else scenario.seed
        wall_start = time.perf_counter()
        entry, scenario_notes = run_one_sim(scenario, seed, run_dir)
        wall_s = time.perf_counter() - wall_start
        entries.append(entry)
        notes[scenario.name] = scenario_notes
        verdict = "PASS" if entry["passed"] else "FAIL"
        progress(
            f"[{number}/{len(scenarios)}] {scenario.name}: {verdict} "
            f"({entry['requests']['total']} requests, {scenario.run_s:g} s simulated in "
            f"{wall_s:.2f} s) digest {entry['digest']}"
        )
    return entries, notes


def run_one_sim(scenario: Scenario, seed: int, run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """One scenario in the twin: write its run folder, return its results entry and notes."""
    run = simulate_run(scenario, seed)
    evidence = run.evidence
    folder = run_dir / scenario.name
    folder.mkdir(parents=True, exist_ok=True)
    digest = write_evidence(evidence, folder)
    entry = judge_scenario(
        scenario,
        evidence,
        duration_s=round(run.run_s, 3),
        event_log=_shown_path(folder / "events.jsonl"),
        time_series=_shown_path(folder / "timeseries.jsonl"),
        digest=digest,
    )
    return entry, list(run.notes)


def write_evidence(evidence: RunEvidence, folder: Path) -> str:
    """The run folder's files for one scenario (docs/run_folder.md); returns the event log's
    sha256."""
    digest = write_jsonl(folder / "events.jsonl", evidence.requests)
    write_jsonl(folder / "timeseries.jsonl", evidence.samples)
    phases = [{"name": p.name, "start_s": p.start_s, "end_s": p.end_s} for p in evidence.phases]
    write_atomic(folder / "phases.json", json.dumps(phases, indent=1).encode())
    write_jsonl(folder / "provider_calls.jsonl", evidence.provider_calls)
    return digest


def _shown_path(path: Path) -> str:
    """Relative to the project when under it (as real mode shows paths), else absolute."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())
