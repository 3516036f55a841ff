"""Scenario files: what a valid file gives the runner, and the message a bad one gets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from contract.spec import (
    CrashFault,
    DownFault,
    ProviderFault,
    ScenarioError,
    load_catalog,
    load_scenario,
    parse_scenario,
    scenario_to_yaml,
)

VALID = """\
name: outage
description: breaker opens, recovers, backlog drains
seed: 7
load:
  users: 20
  rate_rps: 40
  duration_s: 10
  mix: {create: 8, get: 2}
  duplicate_replay_ratio: 0.1
  concurrent_same_key: {groups: 2, size: 5}
faults:
  - at_s: 1
    until_s: 3
    target: network
    action: latency
    params: {latency: 200, jitter: 20, stream: upstream}
  - at_s: 2
    until_s: 6
    target: provider
    action: profile
    phase: outage
    params: {outage: true}
  - at_s: 7
    target: service
    action: crash
    params: {point: relay_after_claim}
settings: {deadline_ms: 300, outbox_schedule_s: [0.5, 1.0]}
drain_s: 4
slo:
  - latency_ms.p95[phase=outage] < 50
  - outbox.backlog_final == 0
"""


def bad(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "outage.yaml")
    return str(caught.value)


def test_a_valid_file_gives_typed_faults_phases_and_assertions() -> None:
    scenario = parse_scenario(VALID, "outage.yaml")
    latency, profile, crash = scenario.faults
    assert latency.action == "latency" and latency.params.attributes() == {
        "latency": 200,
        "jitter": 20,
    }
    assert (latency.params.stream, latency.params.toxicity) == ("upstream", 1.0)
    assert isinstance(profile, ProviderFault)
    assert profile.control_json(default_seed=scenario.seed) == {"outage": True, "seed": 7}
    assert isinstance(crash, CrashFault) and crash.params.nth == 1
    assert [(p.name, p.start_s, p.end_s) for p in scenario.declared_phases()] == [("outage", 2, 6)]
    assert [a.metric for a in scenario.assertions()] == ["latency_ms.p95", "outbox.backlog_final"]
    assert scenario.modes == ["real", "sim"] and scenario.run_s == 14
    assert scenario.settings["outbox_schedule_s"] == [0.5, 1.0]
    assert len(scenario.invariant_names()) == 8


def test_defaults_fill_a_minimal_file() -> None:
    scenario = parse_scenario("name: tiny\ndescription: d\nload: {rate_rps: 5, duration_s: 1}\n")
    assert (scenario.seed, scenario.drain_s, scenario.faults, scenario.slo) == (1, 5.0, [], [])
    assert scenario.load.mix.weights() == {
        "create": 1.0,
        "get": 0.0,
        "list": 0.0,
        "cancel": 0.0,
        "reschedule": 0.0,
    }


def test_a_scenario_written_out_reads_back_equal() -> None:
    scenario = parse_scenario(VALID)
    assert parse_scenario(scenario_to_yaml(scenario)) == scenario


def test_a_down_fault_needs_no_params_and_a_shape_declares_phases() -> None:
    text = """\
name: ramp
description: d
load:
  shape: [{at_s: 0, rate_rps: 10, phase: low}, {at_s: 4, rate_rps: 50, phase: high}]
  duration_s: 8
faults: [{at_s: 5, until_s: 6, target: network, action: down}]
slo: ["latency_ms.p95[phase=high] < 100"]
"""
    scenario = parse_scenario(text)
    assert isinstance(scenario.faults[0], DownFault)
    assert [(p.name, p.start_s, p.end_s) for p in scenario.declared_phases()] == [
        ("low", 0, 4),
        ("high", 4, 8),
    ]
    assert [scenario.load.rate_at(t) for t in (0, 3.9, 4, 7)] == [10, 10, 50, 50]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "  - at_s: 7\n",
            "  - at_s: -5\n",
            "line 23: faults[2].at_s must be >= 0 (got -5)",
        ),
        (
            "    until_s: 6\n",
            "    until_s: 1.5\n",
            "line 18: faults[1].until_s must be > at_s (2) (got 1.5)",
        ),
        (
            "  - at_s: 7\n",
            "  - at_s: 1.5\n",
            "line 23: faults[2].at_s must be >= faults[1].at_s (2): list the timeline in time "
            "order (got 1.5)",
        ),
        (
            "  - at_s: 7\n",
            "  - at_s: 12\n",
            "line 23: faults[2].at_s must be < load.duration_s (10): a fault starts while the "
            "load runs (got 12)",
        ),
        (
            "    until_s: 6\n",
            "    until_s: 60\n",
            "line 18: faults[1].until_s must be <= load.duration_s + drain_s (14) (got 60)",
        ),
        (
            "  duration_s: 10\n",
            "  durration_s: 10\n",
            "line 7: load.durration_s is not a known field (did you mean 'duration_s'? known:",
        ),
        (
            "  duplicate_replay_ratio: 0.1\n",
            "  duplicate_replay_ratio: 1.5\n",
            "line 9: load.duplicate_replay_ratio must be <= 1 (got 1.5)",
        ),
        (
            "  users: 20\n",
            "  users: many\n",
            "line 5: load.users must be a whole number (got 'many')",
        ),
        (
            "    action: latency\n",
            "    action: jitter\n",
            "line 15: faults[0].action must be one of 'latency', 'bandwidth', 'slow_close', "
            "'timeout', 'reset_peer', 'slicer', 'limit_data', 'down' (got 'jitter')",
        ),
        (
            "    target: network\n",
            "    target: database\n",
            "line 14: faults[0].target must be one of 'network', 'provider', 'service' "
            "(got 'database')",
        ),
        (
            "params: {latency: 200, jitter: 20, stream: upstream}",
            "params: {latency: 200, jitter: 20, stream: sideways}",
            "line 16: faults[0].params.stream must be one of 'upstream' or 'downstream' "
            "(got 'sideways')",
        ),
        (
            "params: {latency: 200, jitter: 20, stream: upstream}",
            "params: {jitter: 20}",
            "line 16: faults[0].params.latency is required",
        ),
        (
            "params: {outage: true}",
            "params: {outage: true, eror_rate: 0.5}",
            "line 22: faults[1].params.eror_rate is not a fault-profile field (did you mean "
            "'error_rate'?",
        ),
        (
            "params: {outage: true}",
            "params: {error_rate: 2}",
            "line 22: faults[1].params.error_rate",
        ),
        (
            "params: {point: relay_after_claim}",
            "params: {point: before_lunch}",
            "line 26: faults[2].params.point must be one of 'after_db_commit_before_calendar', "
            "'after_calendar_before_db_update', 'relay_after_claim' or "
            "'relay_after_calendar_before_mark' (got 'before_lunch')",
        ),
        (
            "params: {point: relay_after_claim}",
            "params: {point: relay_after_claim, nth: 0}",
            "line 26: faults[2].params.nth must be >= 1 (got 0)",
        ),
        (
            "    action: crash\n",
            "    action: crash\n    until_s: 8\n",
            "line 26: faults[2].until_s must be absent: a crash is a one-shot event",
        ),
        (
            "  - outbox.backlog_final == 0\n",
            "  - outbox.backlog_fnal == 0\n",
            "line 31: slo[1] is not a valid assertion: SLO 'outbox.backlog_fnal == 0': unknown "
            "metric 'outbox.backlog_fnal' (did you mean 'outbox.backlog_final'?)",
        ),
        (
            "[phase=outage]",
            "[phase=storm]",
            "line 30: slo[0] selects phase 'storm', which no fault or load step declares "
            "(declared: outage)",
        ),
        (
            "  rate_rps: 40\n",
            "",
            "line 5: load.rate_rps needs exactly one of rate_rps (a constant rate) or shape",
        ),
        (
            "  mix: {create: 8, get: 2}\n",
            "  mix: {create: 0, get: 2}\n",
            "line 8: load.mix.create must be > 0: the other operations act on appointments",
        ),
        (
            "seed: 7\n",
            "seed: 7\nmodes: [real, real]\n",
            "line 4: modes must not repeat a mode",
        ),
        (
            "seed: 7\n",
            "seed: 7\nmodes: [live]\n",
            "line 4: modes[0] must be one of 'real' or 'sim' (got 'live')",
        ),
        (
            "seed: 7\n",
            "seed: 7\ninvariants: [nothing_pending, no_dupes]\n",
            "line 4: invariants[1] must be one of no_duplicate_provider_events,",
        ),
        ("name: outage\n", "name: Outage Test\n", "line 1: name must be lowercase letters"),
        ("name: outage\n", "", "line 1: name is required"),
        ("drain_s: 4\n", "drain_s: 4\ndrain_s: 5\n", "line 29: drain_s appears twice"),
        (
            "  - at_s: 7\n",
            "  - {at_s: 2.5, target: provider, action: profile, params: {}}\n  - at_s: 7\n",
            "line 23: faults[2].at_s overlaps faults[1] (both set the provider profile from 2.5 s)",
        ),
    ],
)
def test_a_bad_file_is_named_with_line_field_expected_and_got(
    old: str, new: str, message: str
) -> None:
    assert old in VALID
    text = VALID.replace(old, new, 1)
    assert f"scenario 'outage.yaml' {message}" in bad(text)


def test_all_problems_are_listed_together() -> None:
    text = VALID.replace("  users: 20\n", "  users: 0\n").replace("  - at_s: 7\n", "  - at_s: -1\n")
    assert bad(text) == (
        "scenario 'outage.yaml' has 2 problems:\n"
        "  line 5: load.users must be >= 1 (got 0)\n"
        "  line 23: faults[2].at_s must be >= 0 (got -1)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "scenario 'outage.yaml': is empty"),
        ("name: [\n", "scenario 'outage.yaml' line 2: is not valid YAML"),
        ("- a\n- b\n", "scenario 'outage.yaml' line 1: must be a mapping of fields (got list)"),
    ],
)
def test_a_file_that_is_not_a_scenario_at_all(text: str, message: str) -> None:
    assert bad(text).startswith(message)


def test_files_and_catalogs_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="missing.yaml': cannot be read"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="holds no"):
        load_catalog(tmp_path)
    (tmp_path / "a.yaml").write_text(VALID)
    (tmp_path / "b.yaml").write_text(VALID)
    (tmp_path / "c.yaml").write_text(VALID.replace("  users: 20\n", "  users: -1\n"))
    with pytest.raises(ScenarioError) as caught:
        load_catalog(tmp_path)
    text = str(caught.value)
    assert "c.yaml' line 5: load.users must be >= 1 (got -1)" in text
    assert "b.yaml': name 'outage' is already used by" in text
    (tmp_path / "b.yaml").unlink()
    (tmp_path / "c.yaml").unlink()
    assert [s.name for s in load_catalog(tmp_path)] == ["outage"]


def test_the_documented_yaml_shape_is_a_valid_scenario() -> None:
    from contract.spec import models

    block = (models.__doc__ or "").split("has a default):\n\n", 1)[1].split("\n\nTimes are")[0]
    scenario = parse_scenario(textwrap.dedent(block))
    assert scenario.name == "outage" and scenario.declared_phases()[0].name == "outage"
