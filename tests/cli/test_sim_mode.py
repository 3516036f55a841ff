"""Sim mode of the runner: `run_all_sim` writes the run folder docs/run_folder.md describes and
results entries that pass `validate_results`, prints a digest per scenario, and its files read
back with the evidence module's own readers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cli.sim_mode import encode_records, run_all_sim
from contract.event_log import encode_jsonl, read_jsonl
from contract.evidence import MetricSample, ProviderCall, RequestRecord
from contract.results import RunInfo, build_results, validate_results
from contract.spec import load_catalog, load_scenario
from sim import simulate

ROOT = Path(__file__).resolve().parents[2]
CATALOG = {s.name: s for s in load_catalog(ROOT / "scenarios" / "catalog")}


def test_run_all_sim_writes_the_run_folder_and_valid_results(tmp_path: Path) -> None:
    chosen = [CATALOG[name] for name in ("healthy", "outage", "crash_after_db_commit")]
    printed: list[str] = []
    entries, notes = run_all_sim(chosen, None, tmp_path, printed.append)

    document = build_results(
        RunInfo("run-1", "sim", 1, "2030-01-01T00:00:00+00:00", 1.0, None, "host"), entries
    )
    validate_results(document)
    assert document["summary"]["passed_all"] is True
    assert [e["mode"] for e in entries] == ["sim"] * 3
    assert set(notes) == {"healthy", "outage", "crash_after_db_commit"}
    assert any("crashed" in note for note in notes["crash_after_db_commit"])
    for scenario, entry, line in zip(chosen, entries, printed, strict=True):
        folder = tmp_path / scenario.name
        events = folder / "events.jsonl"
        assert entry["digest"] == hashlib.sha256(events.read_bytes()).hexdigest()
        assert entry["digest"] in line and scenario.name in line
        assert Path(entry["event_log"]).resolve() == events.resolve()
        assert Path(entry["time_series"]).resolve() == (folder / "timeseries.jsonl").resolve()
        records = read_jsonl(events, RequestRecord)
        assert len(records) == entry["requests"]["total"] > 0
        samples = read_jsonl(folder / "timeseries.jsonl", MetricSample)
        assert samples[-1].t_s == scenario.run_s
        assert read_jsonl(folder / "provider_calls.jsonl", ProviderCall)
        phases = json.loads((folder / "phases.json").read_text())
        assert all(set(p) == {"name", "start_s", "end_s"} for p in phases)
        assert entry["duration_s"] == scenario.run_s  # virtual, so results repeat
    outage_phases = json.loads((tmp_path / "outage" / "phases.json").read_text())
    assert outage_phases == [{"name": "outage", "start_s": 2.0, "end_s": 6.0}]


def test_a_negative_control_fails_in_sim_mode_with_a_witness(tmp_path: Path) -> None:
    negative = load_scenario(ROOT / "scenarios" / "negative" / "legacy_duplicates.yaml")
    entries, _ = run_all_sim([negative], None, tmp_path, lambda _: None)
    validate_results(
        build_results(RunInfo("r", "sim", 1, "2030-01-01T00:00:00Z", 1.0, None, "h"), entries)
    )
    failed = [a["expression"] for a in entries[0]["assertions"] if not a["passed"]]
    broken = {i["name"]: i for i in entries[0]["invariants"] if not i["passed"]}
    assert entries[0]["passed"] is False
    assert failed == ["calendar.duplicate_bookings == 0"]
    witness = broken["no_duplicate_provider_events"]["witness"]
    assert witness and all(len(w["event_ids"]) > 1 and w["idempotency_keys"] for w in witness)


def test_the_fast_encoder_writes_the_bytes_of_the_evidence_encoder() -> None:
    evidence = simulate(CATALOG["ambiguous_commit_provider"])
    for records in (evidence.requests, evidence.samples, evidence.provider_calls):
        assert records
        assert encode_records(records) == encode_jsonl(records)
