"""Determinism (DESIGN §8): one seed gives byte-identical run folders and results entries, in
one process and in two processes with different hash seeds; another seed gives another log.

The scenarios chosen cover the twin's randomness: client streams and replays (duplicate),
jittered retries and the breaker (outage), network toxicity draws (ambiguous_commit_network),
a crash and restart (crash_relay_after_calendar).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cli.sim_mode import run_one_sim
from contract.spec import load_catalog

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["duplicate", "outage", "ambiguous_commit_network", "crash_relay_after_calendar"]
FILES = ["events.jsonl", "timeseries.jsonl", "phases.json", "provider_calls.jsonl"]


def fingerprint_run(names: list[str], seed: int | None, run_dir: Path) -> dict[str, Any]:
    """Every scenario's results entry (paths made relative to the run folder) and the sha256 of
    every file it wrote."""
    catalog = {s.name: s for s in load_catalog(ROOT / "scenarios" / "catalog")}
    out: dict[str, Any] = {}
    for name in names:
        scenario = catalog[name]
        entry, notes = run_one_sim(scenario, scenario.seed if seed is None else seed, run_dir)
        entry = {k: v for k, v in entry.items() if k not in ("event_log", "time_series")}
        files = {f: hashlib.sha256((run_dir / name / f).read_bytes()).hexdigest() for f in FILES}
        out[name] = {"entry": entry, "files": files, "notes": notes}
    return out


_CHILD = """
import json, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.sim.test_determinism import fingerprint_run
print(json.dumps(fingerprint_run({names!r}, None, Path(sys.argv[1])), sort_keys=True))
"""


def in_subprocesses(runs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Fingerprint the runs in one fresh interpreter per hash seed, side by side."""
    code = _CHILD.format(root=str(ROOT), names=NAMES)
    children = {
        hash_seed: subprocess.Popen(
            [sys.executable, "-c", code, str(run_dir)],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for hash_seed, run_dir in runs.items()
    }
    results = {}
    for hash_seed, child in children.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results[hash_seed] = dict(json.loads(out))
    return results


def test_one_seed_gives_identical_bytes_in_one_process(tmp_path: Path) -> None:
    first = fingerprint_run(NAMES, None, tmp_path / "a")
    second = fingerprint_run(NAMES, None, tmp_path / "b")
    assert first == second
    assert (tmp_path / "a/outage/events.jsonl").read_bytes() == (
        tmp_path / "b/outage/events.jsonl"
    ).read_bytes()


def test_one_seed_gives_identical_bytes_in_two_processes_with_other_hash_seeds(
    tmp_path: Path,
) -> None:
    children = in_subprocesses({"1": tmp_path / "one", "4242": tmp_path / "two"})
    here = json.loads(json.dumps(fingerprint_run(NAMES, None, tmp_path / "here"), sort_keys=True))
    one, two = children["1"], children["4242"]
    assert one == two == here
    for name in NAMES:
        assert one[name]["entry"]["digest"] == one[name]["files"]["events.jsonl"]


def test_another_seed_changes_the_log(tmp_path: Path) -> None:
    default = fingerprint_run(["duplicate", "outage"], None, tmp_path / "a")
    other = fingerprint_run(["duplicate", "outage"], 2, tmp_path / "b")
    for name in ("duplicate", "outage"):
        assert default[name]["entry"]["digest"] != other[name]["entry"]["digest"]
        assert (
            default[name]["files"]["provider_calls.jsonl"]
            != other[name]["files"]["provider_calls.jsonl"]
        )
