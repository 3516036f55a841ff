"""The real runner's public entry, as capacity planning uses it: one live stack, several runs.

Starts the real processes (fake provider, embedded Toxiproxy, the service, Locust) on loopback.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contract.event_log import read_jsonl
from contract.evidence import RequestRecord
from contract.spec import parse_scenario
from scenarios.real_runner import LiveSession, RealRunOptions

pytestmark = pytest.mark.integration

TINY = """
name: {name}
description: a tiny healthy run for the entry's test
seed: 4
load: {{users: 3, rate_rps: 10, duration_s: 1.5, mix: {{create: 3, get: 1}}}}
drain_s: 0.5
slo: ["success_rate >= 0.99"]
"""


def _live_pids(run_dir: Path) -> list[int]:
    """Live processes started for this run (their command line or environment names it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            text = (proc / "cmdline").read_bytes() + (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z" and str(run_dir).encode() in text:
            found.append(int(proc.name))
    return found


def test_a_session_runs_scenarios_on_one_stack_and_hands_back_their_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # As the command line and calibration do: every child inherits it, so it can be found.
    monkeypatch.setenv("RUN_SCENARIOS_RUN_DIR", str(run_dir))
    lines: list[str] = []
    scenarios = [parse_scenario(TINY.format(name=name)) for name in ("tiny_a", "tiny_b")]
    with LiveSession(RealRunOptions(), run_dir, progress=lines.append) as live:
        runs = [live.run(scenario, 4) for scenario in scenarios]
        stack_pids = _live_pids(run_dir)
    assert "starting the stack (fake provider, toxiproxy)..." in lines
    assert [r.scenario for r in runs] == ["tiny_a", "tiny_b"]
    for run in runs:
        assert run.entry["passed"], run.entry
        assert run.entry["mode"] == "real" and run.entry["seed"] == 4
        assert run.folder == run_dir / run.scenario
        # What the caller is handed is what the event log on disk holds, record for record.
        assert run.requests == tuple(read_jsonl(run.folder / "events.jsonl", RequestRecord))
        assert len(run.requests) == run.entry["requests"]["total"] > 5
    assert stack_pids, "the stack's processes were not found while it ran"
    assert not _live_pids(run_dir), "a process of the session outlived it"
