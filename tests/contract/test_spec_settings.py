"""A scenario's `settings:` checked on load by an injected check, each problem at its line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from contract.spec import ScenarioError, SettingProblem, load_catalog, load_scenario, parse_scenario

FILE = """\
name: tuned
description: a scenario that tunes the service
load: {rate_rps: 5, duration_s: 1}
settings:
  relay_poll_s: 0.2
  relay_pol_s: 1
  deadline_ms: soon
"""


def _check(raw: Mapping[str, Any]) -> list[SettingProblem]:
    # A stand-in for the service's check: the loader only places what it is told.
    problems = []
    if "relay_pol_s" in raw:
        problems.append(SettingProblem("relay_pol_s", "is not a setting of the service"))
    if not isinstance(raw.get("deadline_ms", 0), int | float):
        problems.append(SettingProblem("deadline_ms", "must be a number (got 'soon')"))
    return problems


def test_each_setting_problem_is_named_with_file_and_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(FILE, "tuned.yaml", _check)
    assert str(caught.value) == (
        "scenario 'tuned.yaml' has 2 problems:\n"
        "  line 6: settings.relay_pol_s is not a setting of the service\n"
        "  line 7: settings.deadline_ms must be a number (got 'soon')"
    )


def test_without_a_check_the_contract_takes_settings_as_given() -> None:
    # The contract does not know the service: what it cannot check, it passes on as data.
    assert parse_scenario(FILE, "tuned.yaml").settings["relay_pol_s"] == 1


def test_files_and_catalogs_pass_the_check_on(tmp_path: Path) -> None:
    path = tmp_path / "tuned.yaml"
    path.write_text(FILE)
    with pytest.raises(ScenarioError, match=r"tuned.yaml' has 2 problems"):
        load_scenario(path, _check)
    with pytest.raises(ScenarioError, match=r"line 6: settings.relay_pol_s"):
        load_catalog(tmp_path, _check)
    fixed = FILE.replace("  relay_pol_s: 1\n", "").replace("soon", "300")
    path.write_text(fixed)
    assert load_scenario(path, _check).settings == {"relay_poll_s": 0.2, "deadline_ms": 300}
