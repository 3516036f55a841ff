"""JUnit XML: one testcase per scenario; a failure lists failed assertions and witnesses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from contract.junit import junit_xml, write_junit
from contract.results import RunInfo, build_results, judge_scenario
from contract.spec import parse_scenario
from tests.contract.builders import clean_evidence, event_for, with_changes

SCENARIO = parse_scenario("name: dup\ndescription: d\nload: {rate_rps: 1, duration_s: 1}\n")
RUN = RunInfo("run-1", "real", 3, "2030-01-07T09:00:00+00:00", 9.0, None, "host-\x01a")


def results() -> dict:
    clean = clean_evidence()
    duplicate = event_for(clean.appointments[0], id="evt-<dup>&")
    broken = with_changes(clean, provider_events=(*clean.provider_events, duplicate))
    entries = []
    for name, evidence, limit in (("good", clean, 100), ("bad", broken, 10)):
        slo = [f"latency_ms.p95 < {limit}", "success_rate >= 0.999"]
        scenario = SCENARIO.model_copy(update={"name": name, "slo": slo})
        entries.append(
            judge_scenario(
                scenario,
                evidence,
                duration_s=2.5,
                event_log=f"runs/1/{name}.jsonl",
                time_series=None,
                digest="0" * 64,
            )
        )
    return build_results(RUN, entries)


def test_one_testcase_per_scenario_and_failures_carry_their_witness(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(path, results())
    root = ET.parse(path).getroot()
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "2", "1")
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {"good", "bad"}
    assert cases["good"].find("failure") is None
    failure = cases["bad"].find("failure")
    assert failure is not None
    assert failure.get("message") == "1 assertion(s) and 2 invariant(s) failed"
    text = failure.text or ""
    assert "assertion failed: latency_ms.p95 < 10 (expected < 10, actual 20.0)" in text
    assert "invariant failed: no_duplicate_provider_events (1 violation(s))" in text
    assert '"event_ids": ["evt-0", "evt-<dup>&"]' in text
    assert "digest: " + "0" * 64 in (cases["bad"].findtext("system-out") or "")
    assert cases["bad"].get("classname") == "scenarios.sim"  # the scenario's mode


def test_text_xml_cannot_carry_is_replaced_not_fatal() -> None:
    root = ET.fromstring(junit_xml(results()).split("\n", 1)[1])
    hosts = [p.get("value") for p in root.iter("property") if p.get("name") == "run.host"]
    assert hosts == ["host-\ufffda"]
