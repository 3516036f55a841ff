"""Cancel (idempotent; the provider event is deleted through the outbox) and reschedule (a saga:
reserve, create, switch, release; compensated when the provider refuses)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.service.conftest import appointment_body, new_resource
from tests.service.live_stack import Provider, Service, wait_until

pytestmark = pytest.mark.integration


def _post(service: Service, path: str, body: dict[str, Any] | None, key: str | None = None) -> Any:
    with service.client() as client:
        return client.post(path, json=body, headers={"Idempotency-Key": key or str(uuid.uuid4())})


def _get(service: Service, appointment_id: str) -> dict[str, Any]:
    with service.client() as client:
        body: dict[str, Any] = client.get(f"/v1/appointments/{appointment_id}").json()
        return body


def _saga_steps(service: Service, appointment_id: str) -> list[str]:
    with service.client() as client:
        steps = client.get(f"/v1/admin/sagas/{appointment_id}").json()["steps"]
    return [s["step"] for s in steps]


def _slot(index: int) -> dict[str, Any]:
    return appointment_body("unused", index)["slot"]


def _book(service: Service, resource: str, slot: int = 0) -> dict[str, Any]:
    response = _post(service, "/v1/appointments", appointment_body(resource, slot))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_cancel_releases_the_slot_and_deletes_the_provider_event(
    shared_service: Service, provider: Provider
) -> None:
    resource = new_resource()
    booked = _book(shared_service, resource)
    key = str(uuid.uuid4())
    cancelled = _post(shared_service, f"/v1/appointments/{booked['id']}/cancel", {}, key)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    replay = _post(shared_service, f"/v1/appointments/{booked['id']}/cancel", {}, key)
    assert replay.content == cancelled.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    released = wait_until(
        lambda: (a := _get(shared_service, booked["id"]))["external_state"] == "CONFIRMED" and a
    )
    assert (released["status"], released["external_id"]) == ("cancelled", None)
    assert [e for e in provider.events() if e["calendar_id"] == resource] == []
    assert _book(shared_service, resource)["status"] == "booked"  # the slot is free again


def test_cancel_unknown_appointment_is_404(shared_service: Service) -> None:
    response = _post(shared_service, f"/v1/appointments/{uuid.uuid4()}/cancel", None)
    assert response.status_code == 404


def test_reschedule_moves_the_booking_and_its_provider_event(
    shared_service: Service, provider: Provider
) -> None:
    resource = new_resource()
    booked = _book(shared_service, resource, 0)
    response = _post(
        shared_service, f"/v1/appointments/{booked['id']}/reschedule", {"slot": _slot(4)}
    )
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["slot"] == _slot(4)
    assert moved["external_state"] == "CONFIRMED"
    assert moved["external_id"] != booked["external_id"]
    wait_until(lambda: _saga_steps(shared_service, booked["id"])[-1] == "release_old")
    assert _saga_steps(shared_service, booked["id"]) == [
        "reserve_new_slot",
        "create_new_event",
        "switch",
        "release_old",
    ]
    events = [e for e in provider.events() if e["calendar_id"] == resource]
    assert [(e["id"], e["start"]) for e in events] == [
        (moved["external_id"], _slot(4)["start_time"])
    ]
    assert _book(shared_service, resource, 0)["status"] == "booked"  # the old slot is free


def test_reschedule_into_a_taken_slot_is_409_and_changes_nothing(shared_service: Service) -> None:
    resource = new_resource()
    booked = _book(shared_service, resource, 0)
    _book(shared_service, resource, 1)
    response = _post(
        shared_service, f"/v1/appointments/{booked['id']}/reschedule", {"slot": _slot(1)}
    )
    assert response.status_code == 409
    assert _get(shared_service, booked["id"]) == booked
    assert _saga_steps(shared_service, booked["id"]) == []


def test_reschedule_refused_by_the_provider_is_compensated(
    shared_service: Service, provider: Provider
) -> None:
    resource = new_resource()
    booked = _book(shared_service, resource, 0)
    provider.set_faults(permanent_error_rate=1.0)
    response = _post(
        shared_service, f"/v1/appointments/{booked['id']}/reschedule", {"slot": _slot(2)}
    )
    provider.set_faults()
    assert response.status_code == 409
    assert response.json()["error"] == "provider_refused"
    kept = _get(shared_service, booked["id"])
    assert (kept["slot"], kept["external_state"], kept["external_id"]) == (
        booked["slot"],
        "CONFIRMED",
        booked["external_id"],
    )
    assert _saga_steps(shared_service, booked["id"]) == ["reserve_new_slot", "compensate"]
    assert _book(shared_service, resource, 2)["status"] == "booked"  # the hold was released


def test_a_cancelled_appointment_cannot_be_rescheduled(shared_service: Service) -> None:
    booked = _book(shared_service, new_resource())
    assert _post(shared_service, f"/v1/appointments/{booked['id']}/cancel", None).status_code == 200
    response = _post(
        shared_service, f"/v1/appointments/{booked['id']}/reschedule", {"slot": _slot(3)}
    )
    assert response.status_code == 409
