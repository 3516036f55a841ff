"""One reconciler pass compares the provider with the database (seed 004): deletes the service's
own orphan event, re-creates a confirmed appointment's missing event, flags an event that
drifted — and never deletes an event another client put on the calendar (issue 16, item 5), on
SQLite and PostgreSQL, whether the periodic pass or any tenant's `POST /v1/admin/reconcile`
finds it."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import API_KEYS, appointment_body, new_resource, scratch_postgres
from tests.service.live_stack import ProcessReaper, Provider, Service, start_service, wait_until

pytestmark = pytest.mark.integration

ALPHA, BETA = list(API_KEYS)  # tenant-alpha's key, tenant-beta's key


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        with scratch_postgres() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"


@pytest.fixture
def start(db_url: str, provider: Provider, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Starts this test's service (two tenants; `env` overrides settings); stops it before
    `db_url` drops its database."""
    with contextlib.closing(ProcessReaper()) as reaper:

        def started(**env: str) -> Service:
            return start_service(
                reaper,
                db_url=db_url,
                calendar_url=provider.url,
                log_path=tmp_path / "service.log",
                api_keys=API_KEYS,
                env=env,
            )

        yield started


def _book(client: httpx.Client, resource: str, slot: int) -> dict[str, Any]:
    response = client.post(
        "/v1/appointments",
        json=appointment_body(resource, slot),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    booked: dict[str, Any] = response.json()
    return booked


def _theirs(booked: dict[str, Any], **changes: str) -> dict[str, Any]:
    """Another client's event (its own id, no key of the service's) on `booked`'s slot."""
    return {
        "id": f"theirs-{uuid.uuid4()}",
        "calendar_id": booked["resource_id"],
        "start": booked["slot"]["start_time"],
        "end": booked["slot"]["end_time"],
        "summary": "booked by another client of this calendar",
    } | changes


def test_reconcile_heals_its_own_orphans_and_missing_events_flags_drift_leaves_others(
    start: Callable[..., Service], provider: Provider
) -> None:
    service = start()
    resource = new_resource()
    with service.client() as client, httpx.Client(base_url=provider.url, timeout=10) as calendar:
        missing, drifted, cancelled = (_book(client, resource, slot) for slot in (0, 1, 2))
        calendar.delete(f"/v1/events/{missing['external_id']}").raise_for_status()
        calendar.delete(f"/v1/events/{drifted['external_id']}").raise_for_status()
        moved = {
            "id": drifted["external_id"],
            "calendar_id": resource,
            "start": "2031-03-03T15:00:00Z",
            "end": "2031-03-03T15:30:00Z",
        }
        calendar.post("/v1/events", json=moved).raise_for_status()
        gone = client.post(
            f"/v1/appointments/{cancelled['id']}/cancel",
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert gone.status_code == 200, gone.text
        wait_until(lambda: cancelled["id"] not in {e["id"] for e in provider.events()})
        # The cancelled booking's event is back, with the service's id and key (a create that
        # committed late): the service's own orphan.
        late = {k: v for k, v in _theirs(cancelled).items() if k != "summary"}
        late["id"] = cancelled["id"]
        calendar.post(
            "/v1/events", json=late, headers={"Idempotency-Key": cancelled["id"]}
        ).raise_for_status()
        elsewhere = _theirs(cancelled, calendar_id="nobody")
        calendar.post("/v1/events", json=elsewhere).raise_for_status()
        time.sleep(0.6)  # older than the reconcile grace (0.5 s in tests)

        report = client.post("/v1/admin/reconcile").json()
        assert report | {"provider_events": None} == {
            "tenant": "tenant-alpha",
            "appointments": 3,
            "provider_events": None,
            "orphans_found": 1,
            "orphans_deleted": 1,
            "missing_requeued": 1,
            "drift": 1,
            "drift_ids": [drifted["id"]],
            "foreign_events": 0,  # the one on calendar "nobody" is on none of its bookings
            "foreign_overlapping": 0,
            "foreign_overlapping_ids": [],
            "skipped": None,
        }

        def recreated() -> dict[str, Any] | None:
            current: dict[str, Any] = client.get(f"/v1/appointments/{missing['id']}").json()
            return current if current["external_id"] != missing["external_id"] else None

        healed = wait_until(recreated)
    held = {e["id"]: e for e in provider.events()}
    assert cancelled["id"] not in held
    assert elsewhere["id"] in held
    assert held[healed["external_id"]]["start"] == missing["slot"]["start_time"]
    assert healed["external_state"] == "CONFIRMED"


def test_another_clients_event_survives_the_periodic_pass_and_every_tenants_reconcile(
    start: Callable[..., Service], provider: Provider
) -> None:
    """The outside tester's request: `POST /v1/events` with the client's own id on a calendar
    the service also writes to. It was deleted as an orphan by the periodic pass and by any
    tenant's reconcile; now it stays, and the tenant whose booking it overlaps sees it for
    review (and the log says so)."""
    service = start(REHEARSAL_RECONCILE_INTERVAL_S="0.3")
    resource = new_resource()
    with service.client(ALPHA) as alpha, service.client(BETA) as beta:
        booked = _book(alpha, resource, 0)
        on_it, beside = _theirs(booked), _theirs(booked, calendar_id=new_resource())
        with httpx.Client(base_url=provider.url, timeout=10) as calendar:
            for foreign in (on_it, beside):
                assert calendar.post("/v1/events", json=foreign).status_code == 201

        def flagged_twice() -> bool:
            lines = [
                line
                for line in service.log_lines()
                if line.get("event_id") == on_it["id"] and "did not create" in line["msg"]
            ]
            return len(lines) >= 2

        wait_until(flagged_twice, timeout_s=10)  # two periodic passes, past the grace
        theirs = beta.post("/v1/admin/reconcile").json()
        ours = alpha.post("/v1/admin/reconcile").json()
    held = {e["id"] for e in provider.events()}
    assert {on_it["id"], beside["id"], booked["external_id"]} <= held
    assert (theirs["orphans_found"], theirs["foreign_overlapping_ids"]) == (0, [])
    assert (ours["orphans_found"], ours["foreign_overlapping_ids"]) == (0, [on_it["id"]])
    flagged = next(line for line in service.log_lines() if line.get("event_id") == on_it["id"])
    assert flagged["level"] == "warning" and flagged["appointment_ids"] == [booked["id"]]
