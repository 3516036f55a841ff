"""The command lines (DESIGN §10): `python -m service` and `python -m service.relay` — clear errors
and non-zero exits on bad settings or a taken port, clean exit on SIGTERM, the relay alone
finishing what the service left pending."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import service.__main__ as service_main
import service.relay.__main__ as relay_main
from tests.service.conftest import API_KEYS, appointment_body, new_resource
from tests.service.live_stack import (
    FAST_ENV,
    REPO,
    ProcessReaper,
    Provider,
    start_service,
    wait_until,
)

pytestmark = pytest.mark.integration


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, *argv],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_arguments_exit_2_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as bad_flag:
        service_main.main(["--port", "eighty"])
    assert bad_flag.value.code == 2
    assert "--port" in capsys.readouterr().err
    monkeypatch.setenv("REHEARSAL_DB_URL", "mysql://nowhere/db")
    assert service_main.main([]) == 2
    assert "REHEARSAL_DB_URL" in capsys.readouterr().err
    monkeypatch.delenv("REHEARSAL_DB_URL")
    assert relay_main.main(["--db-url", "sqlite:///not-async.db"]) == 2
    assert "REHEARSAL_DB_URL" in capsys.readouterr().err


def test_a_taken_port_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = service_main.main(
            ["--port", str(port), "--db-url", f"sqlite+aiosqlite:///{tmp_path}/x.db"]
        )
    assert code == 2
    err = capsys.readouterr().err
    assert f"port {port}" in err and "already in use" in err


def test_relay_alone_finishes_pending_work_and_stops_on_sigterm(
    reaper: ProcessReaper, provider: Provider, sqlite_url: str, tmp_path: Path
) -> None:
    service = start_service(
        reaper,
        db_url=sqlite_url,
        calendar_url=provider.url,
        log_path=tmp_path / "service.log",
        api_keys=API_KEYS,
        env={"REHEARSAL_RELAY_ENABLED": "0"},
    )
    provider.set_faults(outage=True)
    with service.client() as client:
        pending = client.post(
            "/v1/appointments",
            json=appointment_body(new_resource()),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        ).json()
    assert pending["external_state"] == "PENDING"
    provider.set_faults()

    import os

    log = (tmp_path / "relay.log").open("wb")
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.relay",
            "--db-url",
            sqlite_url,
            "--calendar-url",
            provider.url,
        ],
        cwd=REPO,
        env={**os.environ, **FAST_ENV},
        stdout=subprocess.PIPE,
        stderr=log,
    )
    reaper.track(relay)
    assert relay.stdout is not None
    assert json.loads(relay.stdout.readline())["event"] == "ready"

    def confirmed() -> bool:
        with service.client() as client:
            state = client.get(f"/v1/appointments/{pending['id']}").json()["external_state"]
        return state == "CONFIRMED"

    wait_until(confirmed, timeout_s=20)
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(timeout=15) == 0

    once = _run(
        [
            "-m",
            "service.relay",
            "--db-url",
            sqlite_url,
            "--calendar-url",
            provider.url,
            "--reconcile-once",
        ]
    )
    assert once.returncode == 0, once.stderr
    report = json.loads(once.stdout.strip().splitlines()[-1])
    assert (report["event"], report["orphans_found"], report["missing_requeued"]) == (
        "reconciled",
        0,
        0,
    )

    service.process.send_signal(signal.SIGTERM)
    assert service.wait_exit(timeout_s=15) == 0
    assert any(line["msg"] == "Application shutdown complete." for line in service.log_lines())


def test_legacy_profile_reproduces_v1_duplicates(
    reaper: ProcessReaper, provider: Provider, sqlite_url: str, tmp_path: Path
) -> None:
    """The negative control: with every protection off, a provider that commits and then fails
    gets the same booking three times (blind retries, no key), and the appointment stays PENDING
    for good (no outbox). v2 under the same fault: test_crash_recovery and test_provider_faults."""
    service = start_service(
        reaper,
        db_url=sqlite_url,
        calendar_url=provider.url,
        log_path=tmp_path / "service.log",
        env={"REHEARSAL_PROFILE": "legacy", "REHEARSAL_RETRY_MAX_ATTEMPTS": "3"},
    )
    resource = new_resource()
    provider.set_faults(commit_then_fail_rate=1.0)
    with service.client() as client:
        answer = client.post("/v1/appointments", json=appointment_body(resource))
        provider.set_faults()
        ready = client.get("/readyz").json()
        time.sleep(1.0)  # were there a relay, its first attempt would be due by now
        later = client.get(f"/v1/appointments/{answer.json()['id']}").json()
    assert answer.status_code == 202
    assert [e["calendar_id"] for e in provider.events()] == [resource] * 3
    assert later["external_state"] == "PENDING"
    assert (ready["profile"], ready["breaker"]) == ("legacy", "disabled")
