"""Each crash point kills the process (exit 137) at its seam; after a restart on the same database
the relay finishes the work: one appointment, CONFIRMED, exactly one provider event, nothing
pending, and the client's retry with its key gets that appointment rather than a second one."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import API_KEYS, appointment_body, new_resource
from tests.service.live_stack import ProcessReaper, Provider, Service, start_service, wait_until

pytestmark = pytest.mark.integration

CRASH_POINTS = [
    # (point, reached on the request path?)
    ("after_db_commit_before_calendar", True),
    ("after_calendar_before_db_update", True),
    ("relay_after_claim", False),
    ("relay_after_calendar_before_mark", False),
]


def _start(
    reaper: ProcessReaper, provider: Provider, db_url: str, log: Path, env: dict[str, str]
) -> Service:
    return start_service(
        reaper, db_url=db_url, calendar_url=provider.url, log_path=log, api_keys=API_KEYS, env=env
    )


def _post(service: Service, body: dict[str, Any], key: str) -> httpx.Response:
    with service.client() as client:
        return client.post("/v1/appointments", json=body, headers={"Idempotency-Key": key})


@pytest.mark.parametrize(
    ("point", "on_request_path"), CRASH_POINTS, ids=[p for p, _ in CRASH_POINTS]
)
def test_crash_then_restart_reaches_a_consistent_state(
    reaper: ProcessReaper,
    provider: Provider,
    sqlite_url: str,
    tmp_path: Path,
    point: str,
    on_request_path: bool,
) -> None:
    crashing = _start(
        reaper, provider, sqlite_url, tmp_path / "first.log", {"REHEARSAL_CRASH_AT": point}
    )
    resource = new_resource()
    body = appointment_body(resource)
    key = str(uuid.uuid4())
    if on_request_path:
        with pytest.raises(httpx.TransportError):
            _post(crashing, body, key)  # the process dies mid-request: no answer at all
    else:
        provider.set_faults(outage=True)  # the request cannot confirm: the relay must
        first = _post(crashing, body, key)
        assert first.status_code == 202
        provider.set_faults()
    assert crashing.wait_exit(timeout_s=20) == 137
    assert any(line.get("crash_point") == point for line in crashing.log_lines())

    service = _start(reaper, provider, sqlite_url, tmp_path / "second.log", {})

    def settled() -> list[dict[str, Any]] | None:
        with service.client() as client:
            items = client.get("/v1/appointments", params={"resource_id": resource}).json()["items"]
            backlog = client.get("/v1/admin/outbox").json()["outbox_length"]
        done = items and all(a["external_state"] == "CONFIRMED" for a in items) and backlog == 0
        return items if done else None

    appointments = wait_until(settled, timeout_s=20)
    assert len(appointments) == 1
    events = [e for e in provider.events() if e["calendar_id"] == resource]
    assert [e["id"] for e in events] == [appointments[0]["external_id"]]
    if point in ("after_calendar_before_db_update", "relay_after_calendar_before_mark"):
        # The provider created the event before the crash, and was asked again after it: the
        # key made the second ask a replay, not a duplicate.
        ok_creates = [
            c
            for c in provider.calls()
            if c["op"] == "create" and c["key"] == appointments[0]["id"] and c["status"] < 300
        ]
        assert len(ok_creates) >= 2

    # The client retries with its key: never a second booking.
    retry = wait_until(lambda: (r := _post(service, body, key)).status_code != 409 and r)
    assert retry.json()["id"] == appointments[0]["id"]
    assert retry.status_code == (201 if on_request_path else 202)  # 202: the replayed first answer


def test_a_crash_point_armed_over_http_fires_on_its_nth_passage_from_then_on(
    reaper: ProcessReaper, provider: Provider, sqlite_url: str, tmp_path: Path
) -> None:
    # The runner's fault timeline arms crash points mid-run; earlier passages must not count.
    service = _start(reaper, provider, sqlite_url, tmp_path / "armed.log", {})
    first = _post(service, appointment_body(new_resource()), str(uuid.uuid4()))
    assert first.status_code == 201
    with service.client() as client:
        refused = client.post("/v1/admin/crash", json={"point": "after_db_commit_before_calendar"})
    assert refused.status_code == 403 and "REHEARSAL_ALLOW_CRASH_ARMING" in refused.text

    armable = _start(
        reaper, provider, sqlite_url, tmp_path / "armable.log",
        {"REHEARSAL_ALLOW_CRASH_ARMING": "1"},
    )  # fmt: skip
    with armable.client() as client:
        bad = client.post("/v1/admin/crash", json={"point": "nowhere", "nth": 1})
        assert bad.status_code == 422 and "nowhere" in bad.text
        armed = client.post(
            "/v1/admin/crash", json={"point": "after_db_commit_before_calendar", "nth": 2}
        )
        assert armed.status_code == 200
    assert _post(armable, appointment_body(new_resource()), str(uuid.uuid4())).status_code == 201
    with pytest.raises(httpx.TransportError):
        _post(armable, appointment_body(new_resource()), str(uuid.uuid4()))
    assert armable.wait_exit(10) == 137
