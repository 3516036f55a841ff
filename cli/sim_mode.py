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

import dataclasses
import json
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from contract.event_log import encode_json_value, sha256_hex, write_atomic
from contract.evidence import RunEvidence
from contract.results import judge_scenario
from contract.spec import Scenario
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
    events = encode_records(evidence.requests)
    write_atomic(folder / "events.jsonl", events)
    write_atomic(folder / "timeseries.jsonl", encode_records(evidence.samples))
    phases = [{"name": p.name, "start_s": p.start_s, "end_s": p.end_s} for p in evidence.phases]
    write_atomic(folder / "phases.json", json.dumps(phases, indent=1).encode())
    write_atomic(folder / "provider_calls.jsonl", encode_records(evidence.provider_calls))
    return sha256_hex(events)


def encode_records(records: Iterable[Any]) -> bytes:
    """The bytes `contract.evidence.encode_jsonl` writes, byte for byte (a test holds them
    equal), with each record type's float fields looked up once instead of once per record:
    `encode_jsonl` resolves the type hints for every record, which made writing a run folder
    cost more than simulating it."""
    plans: dict[type, list[tuple[str, bool]]] = {}
    lines = []
    for record in records:
        kind = type(record)
        plan = plans.get(kind)
        if plan is None:
            hints = typing.get_type_hints(kind)
            plan = [(f.name, _is_float(hints[f.name])) for f in dataclasses.fields(record)]
            plans[kind] = plan
        row = {}
        for name, is_float in plan:
            value = getattr(record, name)
            if is_float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            row[name] = dict(value) if isinstance(value, Mapping) else value
        lines.append(encode_json_value(row) + "\n")
    return "".join(lines).encode("utf-8")


def _is_float(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


def _shown_path(path: Path) -> str:
    """Relative to the project when under it (as real mode shows paths), else absolute."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path.resolve())
