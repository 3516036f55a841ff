"""JUnit XML for CI (`--junit PATH`): one testcase per scenario, built from results_post.json.

A failed scenario carries one <failure> listing every failed assertion (expected vs actual) and
every failed invariant with its witness, so a CI page shows what broke without opening the run
folder. Pure except `write_junit`, which writes the one file it is given (atomically).
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from contract.event_log import write_atomic

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def junit_xml(results: Mapping[str, Any]) -> str:
    """The JUnit XML text for a results document (one <testsuite>, one <testcase> per scenario)."""
    run = results["run"]
    scenarios = results["scenarios"]
    failures = sum(not s["passed"] for s in scenarios)
    total_s = sum(s["duration_s"] for s in scenarios)
    root = ET.Element(
        "testsuites",
        name="rehearsal",
        tests=str(len(scenarios)),
        failures=str(failures),
        errors="0",
        time=f"{total_s:.3f}",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=f"rehearsal.{run['mode']}",
        tests=str(len(scenarios)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{total_s:.3f}",
        timestamp=_clean(run["started_at"]),
    )
    properties = ET.SubElement(suite, "properties")
    for name in ("id", "mode", "seed", "git_revision", "host"):
        ET.SubElement(properties, "property", name=f"run.{name}", value=_clean(run[name]))
    for scenario in scenarios:
        _testcase(suite, scenario)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | os.PathLike[str], results: Mapping[str, Any]) -> None:
    """Write `junit_xml(results)` to path atomically."""
    write_atomic(path, junit_xml(results).encode("utf-8"))


def _testcase(suite: ET.Element, scenario: Mapping[str, Any]) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"scenarios.{scenario['mode']}",
        name=_clean(scenario["name"]),
        time=f"{scenario['duration_s']:.3f}",
    )
    failed_assertions = [a for a in scenario["assertions"] if not a["passed"]]
    failed_invariants = [i for i in scenario["invariants"] if not i["passed"]]
    if failed_assertions or failed_invariants:
        failure = ET.SubElement(
            case,
            "failure",
            type="ScenarioFailed",
            message=_clean(
                f"{len(failed_assertions)} assertion(s) and "
                f"{len(failed_invariants)} invariant(s) failed"
            ),
        )
        lines = [_assertion_line(a) for a in failed_assertions]
        for invariant in failed_invariants:
            lines.append(
                f"invariant failed: {invariant['name']} ({invariant['actual']} violation(s)): "
                f"{invariant['description']}"
            )
            lines += [f"  witness: {_compact(entry)}" for entry in invariant["witness"]]
        failure.text = _clean("\n".join(lines))
    notes = [
        f"event_log: {scenario['event_log']}",
        f"time_series: {scenario['time_series']}",
        f"digest: {scenario['digest']}",
    ]
    notes += [f"{i['name']}: {i['detail']}" for i in scenario["invariants"] if not i["checked"]]
    ET.SubElement(case, "system-out").text = _clean("\n".join(notes))


def _assertion_line(assertion: Mapping[str, Any]) -> str:
    line = (
        f"assertion failed: {assertion['expression']} "
        f"(expected {assertion['expected']}, actual {assertion['actual']})"
    )
    return f"{line}: {assertion['detail']}" if assertion.get("detail") else line


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _clean(value: Any) -> str:
    return _NOT_XML.sub("\ufffd", "" if value is None else str(value))
