"""The main job end to end: real processes on loopback, the way a user or CI runs it.

Each test runs `run_scenarios.py` as a subprocess (its own process group, killed in a finally)
and checks what the user sees: exit code, results_post.json against the schema, JUnit, the run
folder, witnesses, and that no child process outlives the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from contract.results import validate_results

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FAST_HEALTHY = """
name: fast_healthy
description: a short healthy run for the tests
modes: [real, sim]
seed: 2
load: {users: 5, rate_rps: 20, duration_s: 3, mix: {create: 4, get: 1}}
drain_s: 1
slo:
  - success_rate >= 0.99
  - calendar.duplicate_bookings == 0
  - outbox.backlog_final == 0
"""


PARTS = ("fakes.calendar", "fakes.toxiproxy", "-m service", "locust")


def _stop(process: subprocess.Popen, tmp_path: Path) -> None:
    """However a test ends: let the runner clean up (SIGTERM), then kill what is left by PID."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for line in _children_of_runs(tmp_path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(line.split()[0]), signal.SIGKILL)


def _run(args: list[str], tmp_path: Path, timeout_s: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(ROOT / "run_scenarios.py"), "--runs-dir", str(tmp_path / "runs"),
           "--out", str(tmp_path / "results_post.json"), *args]  # fmt: skip
    process = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = process.communicate(timeout=timeout_s)
    finally:
        _stop(process, tmp_path)
    return subprocess.CompletedProcess(cmd, process.returncode, out, "")


def _children_of_runs(tmp_path: Path) -> list[str]:
    """Live processes whose command line or environment names this test's folder: the service,
    the fakes and Locust (whose config path is in its environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (proc / "environ").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().split()[2]
        except OSError:
            continue
        if state != "Z" and "-m pytest" not in cmdline and str(tmp_path) in cmdline + environ:
            found.append(f"{proc.name} {cmdline}")
    return found


def test_a_healthy_run_passes_and_writes_results_junit_and_run_folder(tmp_path: Path) -> None:
    scenario = tmp_path / "fast_healthy.yaml"
    scenario.write_text(FAST_HEALTHY)
    done = _run(["--scenario", str(scenario)], tmp_path)
    assert done.returncode == 0, done.stdout
    assert "fast_healthy" in done.stdout and "1/1 passed" in done.stdout
    document = json.loads((tmp_path / "results_post.json").read_text())
    validate_results(document)
    entry = document["scenarios"][0]
    assert entry["passed"] and entry["mode"] == "real" and entry["requests"]["total"] > 20
    assert entry["latency_ms"]["p50"] is not None
    assert entry["outbox"]["backlog_final"] == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    events = (
        ROOT / entry["event_log"]
        if not Path(entry["event_log"]).is_absolute()
        else Path(entry["event_log"])
    )
    assert events.exists() and events.parent == run_dir / "fast_healthy"
    for name in ("timeseries.jsonl", "phases.json", "provider_calls.jsonl"):
        assert (events.parent / name).exists()
    suite = ET.parse(run_dir / "junit.xml").getroot()
    assert suite.find(".//testcase[@name='fast_healthy']") is not None
    assert not _children_of_runs(tmp_path)


def test_negative_control_fails_with_a_witness_of_duplicated_keys(tmp_path: Path) -> None:
    # A gate that cannot fail is a defect: v1's missing provider key under commit-then-fail.
    done = _run(["--scenario", str(ROOT / "scenarios/negative/legacy_duplicates.yaml")], tmp_path)
    assert done.returncode == 1, done.stdout
    document = json.loads((tmp_path / "results_post.json").read_text())
    entry = document["scenarios"][0]
    assert not entry["passed"] and entry["calendar"]["duplicate_bookings"] > 0
    (broken,) = [i for i in entry["invariants"] if i["name"] == "no_duplicate_provider_events"]
    assert not broken["passed"]
    # The witness names the duplicated client keys, the appointments and the provider events.
    sent_keys = {
        json.loads(line)["idempotency_key"]
        for line in (ROOT / entry["event_log"]).read_text().splitlines()
    }
    for group in broken["witness"]:
        assert len(group["event_ids"]) >= 2 and group["appointment_ids"]
        assert group["idempotency_keys"] and set(group["idempotency_keys"]) <= sent_keys
    assert "no_duplicate_provider_events" in done.stdout


def test_a_bad_scenario_file_stops_with_exit_2_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(FAST_HEALTHY.replace("duration_s: 3", "duration_s: -3"))
    done = _run(["--scenario", str(bad)], tmp_path, timeout_s=60)
    assert done.returncode == 2
    assert "bad.yaml" in done.stdout and "load.duration_s" in done.stdout
    assert not (tmp_path / "results_post.json").exists()


def test_ctrl_c_mid_run_leaves_no_process_behind(tmp_path: Path) -> None:
    scenario = tmp_path / "long.yaml"
    scenario.write_text(FAST_HEALTHY.replace("duration_s: 3", "duration_s: 30"))
    cmd = [sys.executable, str(ROOT / "run_scenarios.py"), "--runs-dir", str(tmp_path / "runs"),
           "--out", str(tmp_path / "results_post.json"), "--scenario", str(scenario)]  # fmt: skip
    process = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        running: list[str] = []
        while time.monotonic() < deadline:
            running = _children_of_runs(tmp_path)
            if all(any(part in line for line in running) for part in PARTS):
                break
            time.sleep(0.2)
        # The fake provider, the proxy, the service and Locust are all up before the Ctrl-C.
        for part in PARTS:
            assert any(part in line for line in running), (part, running)
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 2, out
        assert "interrupted" in out
        time.sleep(0.5)
        assert _children_of_runs(tmp_path) == []
    finally:
        _stop(process, tmp_path)


PG_URL = os.environ.get(
    "REHEARSAL_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> str | None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError as exc:
        return f"PostgreSQL is not reachable on 127.0.0.1:5432 ({exc})"
    return None


@pytest.mark.postgres
def test_a_run_on_postgresql_uses_a_scratch_database_per_scenario_and_drops_it(
    tmp_path: Path,
) -> None:
    reason = _postgres_reachable()
    if reason:
        pytest.skip(reason)
    scenario = tmp_path / "pg_healthy.yaml"
    scenario.write_text(FAST_HEALTHY.replace("fast_healthy", "pg_healthy"))
    done = _run(["--scenario", str(scenario), "--db-url", PG_URL], tmp_path)
    assert done.returncode == 0, done.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    scratch = f"test_{run_dir.name.lower()}_pg_healthy".replace("-", "_")
    assert f"database: postgresql+asyncpg://postgres@127.0.0.1:5432/{scratch}" in done.stdout
    assert not (run_dir / "pg_healthy" / "service.db").exists()

    import asyncio

    import asyncpg

    async def leftover() -> list[str]:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'test_%'")
        finally:
            await conn.close()
        return [
            r["datname"] for r in rows if run_dir.name.lower().replace("-", "_") in r["datname"]
        ]

    assert asyncio.run(leftover()) == []


def test_an_unknown_scenario_name_is_exit_2_listing_the_catalog(tmp_path: Path) -> None:
    done = _run(["--scenario", "no_such_scenario"], tmp_path, timeout_s=60)
    assert done.returncode == 2
    assert "no_such_scenario" in done.stdout and "healthy" in done.stdout
    assert "Traceback" not in done.stdout
