"""One reconciler pass compares the provider with the database: deletes an orphan event,
re-creates a confirmed appointment's missing event, flags an event that drifted (seed 004)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.service.conftest import API_KEYS, appointment_body, new_resource
from tests.service.live_stack import ProcessReaper, Provider, start_service, wait_until

pytestmark = pytest.mark.integration


def test_reconcile_heals_orphans_and_missing_events_and_flags_drift(
    reaper: ProcessReaper, provider: Provider, sqlite_url: str, tmp_path: Path
) -> None:
    service = start_service(
        reaper,
        db_url=sqlite_url,
        calendar_url=provider.url,
        log_path=tmp_path / "service.log",
        api_keys=API_KEYS,
    )
    resource = new_resource()
    with service.client() as client, httpx.Client(base_url=provider.url, timeout=10) as calendar:

        def book(slot: int) -> dict[str, Any]:
            response = client.post(
                "/v1/appointments",
                json=appointment_body(resource, slot),
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert response.status_code == 201
            booked: dict[str, Any] = response.json()
            return booked

        missing, drifted = book(0), book(1)
        calendar.delete(f"/v1/events/{missing['external_id']}").raise_for_status()
        calendar.delete(f"/v1/events/{drifted['external_id']}").raise_for_status()
        moved = {
            "id": drifted["external_id"],
            "calendar_id": resource,
            "start": "2031-03-03T15:00:00Z",
            "end": "2031-03-03T15:30:00Z",
        }
        orphan = {**moved, "id": f"orphan-{uuid.uuid4()}", "calendar_id": "nobody"}
        for event in (moved, orphan):
            calendar.post("/v1/events", json=event).raise_for_status()
        time.sleep(0.6)  # older than the reconcile grace (0.5 s in tests)

        report = client.post("/v1/admin/reconcile").json()
        assert report | {"appointments": None, "provider_events": None} == {
            "appointments": None,
            "provider_events": None,
            "orphans_found": 1,
            "orphans_deleted": 1,
            "missing_requeued": 1,
            "drift": 1,
            "drift_ids": [drifted["id"]],
            "skipped": None,
        }

        def recreated() -> dict[str, Any] | None:
            current: dict[str, Any] = client.get(f"/v1/appointments/{missing['id']}").json()
            return current if current["external_id"] != missing["external_id"] else None

        healed = wait_until(recreated)
    held = {e["id"]: e for e in provider.events()}
    assert orphan["id"] not in held
    assert held[healed["external_id"]]["start"] == missing["slot"]["start_time"]
    assert healed["external_state"] == "CONFIRMED"
