"""results_post.json: building, validating, writing and reading it (DESIGN §7).

The document is checked against the published JSON Schema (`schemas/results_post.schema.json`,
draft 2020-12) and against what a schema cannot say (a scenario passed only when all its checks
did; the summary counts what the scenarios say) before it is written, and again when read. The
write is atomic: a crash leaves the old file or the new one, never half of one.

Pure except `write_results` and `read_results`, which touch the file they are given; the run's
own facts (id, start time, host, git revision) arrive in `RunInfo` from the caller.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from contract.assertions import AssertionResult, evaluate_assertions
from contract.event_log import write_atomic
from contract.evidence import RunEvidence, compute_metrics
from contract.fault_reach import fault_reach, reach_verdict
from contract.invariants import InvariantResult, check_invariants
from contract.spec import Scenario

SCHEMA_VERSION = "1.0"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "results_post.schema.json"


class ResultsError(ValueError):
    """A results document that does not match the schema or contradicts itself."""


@dataclass(frozen=True)
class RunInfo:
    """The run's own facts, which the runner owns (clock, host, git)."""

    id: str
    mode: str
    seed: int
    started_at: str
    duration_s: float
    git_revision: str | None
    host: str


def judge_scenario(
    scenario: Scenario,
    evidence: RunEvidence,
    *,
    duration_s: float,
    event_log: str,
    time_series: str | None,
    digest: str,
) -> dict[str, Any]:
    """Judge one run of a scenario: metrics, its invariants and SLOs → its results entry.

    event_log and time_series are the paths written for this run (as the results should show
    them); digest is the sha256 of the event log's bytes (what `write_jsonl` returned).
    """
    metrics = compute_metrics(evidence)
    invariants = check_invariants(evidence, scenario.invariant_names())
    reach = fault_reach(scenario.faults, evidence)
    if reach:
        invariants.append(reach_verdict(reach))
    return scenario_entry(
        name=scenario.name,
        mode=evidence.mode,
        seed=evidence.seed,
        duration_s=duration_s,
        metrics=metrics,
        invariants=invariants,
        assertions=evaluate_assertions(scenario.assertions(), evidence, metrics),
        event_log=event_log,
        time_series=time_series,
        digest=digest,
        fault_phases=[phase.as_json() for phase in reach],
    )


def scenario_entry(
    *,
    name: str,
    mode: str,
    seed: int,
    duration_s: float,
    metrics: Mapping[str, Any],
    invariants: Sequence[InvariantResult],
    assertions: Sequence[AssertionResult],
    event_log: str,
    time_series: str | None,
    digest: str,
    fault_phases: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """One entry of `scenarios`, from already computed metrics and verdicts."""
    entry = {
        "name": name,
        "mode": mode,
        "seed": seed,
        "passed": all(i.passed for i in invariants) and all(a.passed for a in assertions),
        "duration_s": duration_s,
        **{block: _plain(metrics[block]) for block in _METRIC_BLOCK_ORDER},
        "invariants": [_invariant_json(result) for result in invariants],
        "assertions": [dataclasses.asdict(result) for result in assertions],
        "event_log": event_log,
        "time_series": time_series,
        "digest": digest,
    }
    if fault_phases:
        entry["fault_phases"] = [dict(phase) for phase in fault_phases]
    return entry


def build_results(run: RunInfo, scenarios: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The whole document: schema version, run, scenario entries and their summary."""
    failed = [s for s in scenarios if not s["passed"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "run": dataclasses.asdict(run),
        "scenarios": [dict(s) for s in scenarios],
        "summary": {
            "counts": {
                "scenarios": len(scenarios),
                "passed": len(scenarios) - len(failed),
                "failed": len(failed),
                "assertions_failed": sum(
                    not a["passed"] for s in scenarios for a in s["assertions"]
                ),
                "invariants_failed": sum(
                    not i["passed"] for s in scenarios for i in s["invariants"]
                ),
            },
            "passed_all": not failed,
        },
    }


def validate_results(document: Any) -> None:
    """Raise ResultsError unless document matches the schema and agrees with itself."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_json_path(e.absolute_path)}: {e.message}" for e in errors[:10]]
        more = f"\n  … and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise ResultsError("results do not match the schema:\n" + "\n".join(lines) + more)
    for index, scenario in enumerate(document["scenarios"]):
        held = all(c["passed"] for c in [*scenario["invariants"], *scenario["assertions"]])
        if scenario["passed"] != held:
            raise ResultsError(
                f"scenarios[{index}] ('{scenario['name']}'): passed is {scenario['passed']} but "
                f"its invariants and assertions say {held}"
            )
    rebuilt = build_results(RunInfo(**document["run"]), document["scenarios"])["summary"]
    if document["summary"] != rebuilt:
        raise ResultsError(
            f"summary {document['summary']} does not match the scenarios (expected {rebuilt})"
        )


def encode_results(document: Mapping[str, Any]) -> bytes:
    """The document as the bytes written to disk: indented JSON, keys in document order."""
    return (json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode()


def write_results(path: str | os.PathLike[str], document: Mapping[str, Any]) -> None:
    """Validate, then write atomically. An invalid document is refused and nothing is written."""
    validate_results(document)
    write_atomic(path, encode_results(document))


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a results file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: cannot be read as JSON ({exc})") from exc
    try:
        validate_results(document)
    except ResultsError as exc:
        raise ResultsError(f"{path}: {exc}") from exc
    return dict(document)


def exit_code(document: Mapping[str, Any]) -> int:
    """The run's exit code per DESIGN §7: 0 when every scenario passed, 1 otherwise."""
    return 0 if document["summary"]["passed_all"] else 1


@functools.cache
def load_schema() -> dict[str, Any]:
    """The published JSON Schema for results_post.json."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


_METRIC_BLOCK_ORDER = ("requests", "latency_ms", "retries", "calendar", "circuit_breaker", "outbox")


def _invariant_json(result: InvariantResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "description": result.description,
        "passed": result.passed,
        "checked": result.checked,
        "expected": 0,
        "actual": result.violations,
        "witness": [_plain(entry) for entry in result.witness],
        "detail": result.detail,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _json_path(path: Any) -> str:
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
