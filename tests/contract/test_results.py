"""results_post.json: judged from evidence, valid against the published schema, written atomically."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from contract.event_log import write_jsonl
from contract.evidence import METRIC_BLOCKS, Outcome
from contract.results import (
    SCHEMA_PATH,
    ResultsError,
    RunInfo,
    build_results,
    exit_code,
    judge_scenario,
    load_schema,
    read_results,
    validate_results,
    write_results,
)
from contract.spec import parse_scenario
from tests.contract.builders import clean_evidence, event_for, with_changes

SCENARIO = parse_scenario(
    """\
name: outage
description: d
load: {rate_rps: 10, duration_s: 10}
faults: [{at_s: 2, until_s: 4, target: provider, action: profile, phase: outage,
          params: {outage: true}}]
slo: ["latency_ms.p95 < 300", "latency_ms.p95[phase=outage] < 50", "success_rate >= 0.999"]
"""
)
RUN = RunInfo(
    id="run-1",
    mode="sim",
    seed=1,
    started_at="2030-01-07T09:00:00Z",
    duration_s=12.5,
    git_revision="abc123",
    host="ci-1",
)


def results_for(evidence: Any, tmp_path: Path) -> dict[str, Any]:
    log = tmp_path / "outage.events.jsonl"
    digest = write_jsonl(log, evidence.requests)
    entry = judge_scenario(
        SCENARIO,
        evidence,
        duration_s=11.0,
        event_log=str(log),
        time_series=str(tmp_path / "outage.series.jsonl"),
        digest=digest,
    )
    return build_results(RUN, [entry])


def broken_evidence() -> Any:
    evidence = clean_evidence()
    duplicate = event_for(evidence.appointments[0], id="evt-dup")
    return with_changes(evidence, provider_events=(*evidence.provider_events, duplicate))


def test_the_schema_is_draft_2020_12_and_matches_the_metric_blocks() -> None:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    scenario = schema["$defs"]["scenario"]["properties"]
    for block, keys in METRIC_BLOCKS.items():
        assert tuple(scenario[block]["properties"]) == keys
    by_outcome = scenario["requests"]["properties"]["by_outcome"]["properties"]
    assert set(by_outcome) == {o.value for o in Outcome}


def test_a_clean_run_is_judged_passed_and_round_trips(tmp_path: Path) -> None:
    document = results_for(clean_evidence(), tmp_path)
    (entry,) = document["scenarios"]
    assert entry["passed"] and document["summary"]["passed_all"] and exit_code(document) == 0
    assert [a["expression"] for a in entry["assertions"]] == SCENARIO.slo
    assert entry["assertions"][1]["phase"] == "outage"
    assert len(entry["digest"]) == 64
    path = tmp_path / "run" / "results_post.json"
    write_results(path, document)
    jsonschema.validate(json.loads(path.read_text()), json.loads(SCHEMA_PATH.read_text()))
    assert read_results(path) == document


def test_a_duplicate_fails_the_run_with_its_witness(tmp_path: Path) -> None:
    document = results_for(broken_evidence(), tmp_path)
    (entry,) = document["scenarios"]
    assert not entry["passed"] and exit_code(document) == 1
    assert entry["calendar"]["duplicate_bookings"] == 1
    (duplicate,) = [i for i in entry["invariants"] if i["name"] == "no_duplicate_provider_events"]
    assert (duplicate["passed"], duplicate["expected"], duplicate["actual"]) == (False, 0, 1)
    assert duplicate["witness"][0]["event_ids"] == ["evt-0", "evt-dup"]
    assert document["summary"]["counts"] == {
        "scenarios": 1,
        "passed": 0,
        "failed": 1,
        "assertions_failed": 0,
        "invariants_failed": 2,
    }
    validate_results(document)


def _drop(key: str):
    def change(d: dict) -> None:
        del d[key]

    return change


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_drop("summary"), "'summary' is a required property"),
        (lambda d: d["run"].update(mode="staging"), "$.run.mode"),
        (lambda d: d["run"].update(started_at="yesterday"), "$.run.started_at"),
        (lambda d: d["scenarios"][0].update(digest="abc"), "$.scenarios[0].digest"),
        (lambda d: d["scenarios"][0]["latency_ms"].update(p95=-1), "$.scenarios[0].latency_ms.p95"),
        (lambda d: d["scenarios"][0]["requests"]["by_outcome"].pop("conflict"), "'conflict'"),
        (lambda d: d["scenarios"][0]["outbox"].update(backlog=3), "Additional properties"),
        (lambda d: d["scenarios"][0].update(passed=True), "passed is True but"),
        (lambda d: d["summary"].update(passed_all=True), "does not match the scenarios"),
        (lambda d: d.update(schema_version="0.9"), "$.schema_version"),
    ],
)
def test_a_broken_document_is_rejected(mutate: Any, message: str, tmp_path: Path) -> None:
    document = copy.deepcopy(results_for(broken_evidence(), tmp_path))
    mutate(document)
    with pytest.raises(ResultsError) as caught:
        validate_results(document)
    assert message in str(caught.value)


def test_an_invalid_document_is_never_written(tmp_path: Path) -> None:
    document = results_for(clean_evidence(), tmp_path)
    path = tmp_path / "results_post.json"
    write_results(path, document)
    before = path.read_bytes()
    document["scenarios"][0]["passed"] = False
    with pytest.raises(ResultsError):
        write_results(path, document)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_reading_a_file_that_is_not_results_names_it(tmp_path: Path) -> None:
    path = tmp_path / "results_post.json"
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="results_post.json: cannot be read as JSON"):
        read_results(path)
    path.write_text("{}")
    with pytest.raises(ResultsError, match="results_post.json: results do not match the schema"):
        read_results(path)
