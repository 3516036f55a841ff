"""Reading one run for the report: results_post.json and each scenario's run-folder files.

Owns finding the files a results document points to (docs/run_folder.md) and turning them into
pandas frames; never writes anything. The formats belong to `contract.results` (validated
against schemas/results_post.schema.json) and `contract.evidence` (the JSON Lines records); the
JSON Lines files are read against the same record types (`reports.jsonl_frames`), so the report
sees exactly what the runner wrote.

Every problem is a `ReportInputError` naming the file, and for JSON Lines the line:
a missing event log, time series, phases.json or provider_calls.jsonl is an error (the runner
always writes them); an empty one is data that is absent, and the plots that need it are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from contract.event_log import sha256_hex
from contract.evidence import MetricSample, Phase, ProviderCall, RequestRecord
from contract.results import ResultsError, read_results
from reports.errors import ReportInputError
from reports.jsonl_frames import read_frame

#: Where relative paths in results_post.json start (docs/run_folder.md).
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ScenarioData:
    """One scenario of a run: its results entry and its run-folder files as frames.

    `samples` is None when the run recorded no time series (`time_series: null`). Frames have one
    column per record field, in field order, even when empty; enums are their string values.
    `notes` are things a reader should know that are not errors (e.g. a digest mismatch).
    """

    entry: Mapping[str, Any]
    folder: Path
    requests: pd.DataFrame
    samples: pd.DataFrame | None
    phases: tuple[Phase, ...]
    provider_calls: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The scenario's name (also the stem of its plot files)."""
        return str(self.entry["name"])

    @property
    def span_s(self) -> float:
        """The time axis every plot of this scenario shares: 0 to the last thing that happened."""
        ends = [float(self.entry["duration_s"])]
        if not self.requests.empty:
            ends.append(float(self.requests["end_s"].max()))
        if self.samples is not None and not self.samples.empty:
            ends.append(float(self.samples["t_s"].max()))
        if not self.provider_calls.empty:
            ends.append(float(self.provider_calls["t_s"].max()))
        ends.extend(phase.end_s for phase in self.phases)
        return max(ends) if max(ends) > 0 else 1.0


@dataclass(frozen=True)
class RunData:
    """A whole run: the validated results document and every scenario's data."""

    path: Path
    document: Mapping[str, Any]
    scenarios: tuple[ScenarioData, ...]

    @property
    def run(self) -> Mapping[str, Any]:
        """The document's `run` block (id, mode, seed, started_at, git_revision, host)."""
        return self.document["run"]  # type: ignore[no-any-return]


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate results_post.json; ReportInputError naming the file when it cannot."""
    try:
        return read_results(path)
    except ResultsError as exc:
        raise ReportInputError(str(exc)) from exc


def load_run(path: str | Path) -> RunData:
    """The results file at path and every scenario's run-folder files.

    Raises ReportInputError naming the file (and line) that is missing or malformed.
    """
    results_path = Path(path)
    document = load_results(results_path)
    scenarios = tuple(load_scenario_data(entry, results_path) for entry in document["scenarios"])
    return RunData(path=results_path, document=document, scenarios=scenarios)


def load_scenario_data(entry: Mapping[str, Any], results_path: Path) -> ScenarioData:
    """One scenario's files, found from the paths its results entry names."""
    name = entry["name"]
    event_log = resolve_path(entry["event_log"], results_path, name, "event log")
    folder = event_log.parent
    requests = read_frame(event_log, RequestRecord)
    notes = []
    digest = sha256_hex(event_log.read_bytes())
    if digest != entry["digest"]:
        notes.append(
            f"{event_log} does not match the digest in the results ({entry['digest'][:12]}…, "
            f"file {digest[:12]}…): the folder was rewritten after the run"
        )
    samples = None
    if entry["time_series"] is not None:
        series = resolve_path(entry["time_series"], results_path, name, "time series")
        samples = read_frame(series, MetricSample)
    return ScenarioData(
        entry=entry,
        folder=folder,
        requests=requests,
        samples=samples,
        phases=read_phases(_beside(folder, "phases.json")),
        provider_calls=read_frame(_beside(folder, "provider_calls.jsonl"), ProviderCall),
        notes=tuple(notes),
    )


def resolve_path(shown: str, results_path: Path, scenario: str, what: str) -> Path:
    """The file a results entry names: absolute, or relative to the project root.

    A results file copied with its run folder (CI artifacts) still works: the file is also looked
    for as `<results folder>/<scenario>/<file name>`, where the runner puts it.
    """
    given = Path(shown)
    if given.is_absolute():
        candidates = [given]
    else:
        candidates = [PROJECT_ROOT / given, Path.cwd() / given]
    candidates.append(results_path.parent / scenario / given.name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(dict.fromkeys(str(c) for c in candidates))
    raise ReportInputError(
        f"{results_path}: scenario '{scenario}': its {what} {shown} does not exist "
        f"(looked at {tried}); render from the run folder's results_post.json or re-run"
    )


def _beside(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise ReportInputError(
            f"{path}: missing; the runner writes it beside events.jsonl (docs/run_folder.md)"
        )
    return path


def read_phases(path: Path) -> tuple[Phase, ...]:
    """phases.json: a JSON list of {"name", "start_s", "end_s"}, sorted by start."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot be read ({exc.strerror})") from exc
    except ValueError as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, list):
        raise ReportInputError(f"{path}: must be a JSON list of phases (got {type(data).__name__})")
    phases = []
    for index, item in enumerate(data):
        where = f"{path}: phase [{index}]"
        if not isinstance(item, dict) or not {"name", "start_s", "end_s"} <= set(item):
            raise ReportInputError(f"{where} must be an object with name, start_s and end_s")
        start, end = item["start_s"], item["end_s"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, end)):
            raise ReportInputError(f"{where}: start_s and end_s must be numbers")
        if end < start:
            raise ReportInputError(f"{where}: end_s {end} is before start_s {start}")
        phases.append(Phase(str(item["name"]), float(start), float(end)))
    return tuple(sorted(phases, key=lambda p: (p.start_s, p.end_s, p.name)))
