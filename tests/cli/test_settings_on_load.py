"""`./run_scenarios.py` checks a scenario's settings against the service's on load, both modes:
a bad one is exit 2 naming file, line and setting, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main

BAD = """\
name: tuned
description: a scenario with a mistyped setting and a value of the wrong type
load: {rate_rps: 5, duration_s: 1}
settings:
  relay_poll_s: 0.2
  breaker_coldown_s: 1.0
  retry_max_attempts: three
"""


@pytest.mark.parametrize("mode", ["real", "sim"])
def test_a_bad_setting_is_exit_2_naming_file_line_and_setting(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tuned.yaml"
    path.write_text(BAD)
    runs = tmp_path / "runs"
    code = main(["--mode", mode, "--scenario", str(path), "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"scenario '{path}' has 2 problems" in err
    assert (
        "line 6: settings.breaker_coldown_s is not a setting of the service (did you mean "
        "'breaker_cooldown_s'?)" in err
    )
    assert "line 7: settings.retry_max_attempts must be a whole number (got 'three')" in err
    assert not runs.exists()  # nothing ran: no run folder, no stack


def test_the_same_file_with_its_settings_fixed_runs(tmp_path: Path) -> None:
    path = tmp_path / "tuned.yaml"
    path.write_text(BAD.replace("coldown", "cooldown").replace("three", "3"))
    out = tmp_path / "results_post.json"
    argv = ["--mode", "sim", "--scenario", str(path), "--runs-dir", str(tmp_path / "runs")]
    assert main([*argv, "--out", str(out)]) == 0
    assert out.exists()
