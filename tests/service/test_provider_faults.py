"""The provider misbehaves: hangs, an outage, permanent refusals. The client still gets an answer
within the deadline, and the outbox relay finishes or compensates the work afterwards."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.settings import CALENDAR_CLIENTS
from tests.service.conftest import API_KEYS, appointment_body, new_resource
from tests.service.live_stack import ProcessReaper, Provider, Service, start_service, wait_until

pytestmark = pytest.mark.integration

# Generous: the deadline is 300 ms, a hung provider would hold a request for 30 s.
WITHIN_DEADLINE_S = 2.0


def _start(
    reaper: ProcessReaper, provider: Provider, directory: Path, calendar_client: str
) -> Service:
    return start_service(
        reaper,
        db_url=f"sqlite+aiosqlite:///{directory / 'service.db'}",
        calendar_url=provider.url,
        log_path=directory / "service.log",
        api_keys=API_KEYS,
        env={"REHEARSAL_CALENDAR_CLIENT": calendar_client},
    )


@pytest.fixture(scope="module", params=CALENDAR_CLIENTS)
def calendar_client(request: pytest.FixtureRequest) -> str:
    """Each fault end to end with either HTTP client (the default and the one kept selectable)."""
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def service(
    session_provider: Provider, tmp_path_factory: pytest.TempPathFactory, calendar_client: str
) -> Iterator[Service]:
    """One service for the tests whose faults never open the breaker (a hang costs one failure,
    a permanent refusal counts as an answer); its own database, so counts start at zero."""
    reaper = ProcessReaper()
    try:
        yield _start(reaper, session_provider, tmp_path_factory.mktemp("faults"), calendar_client)
    finally:
        reaper.close()


def _create(service: Service, body: dict[str, Any]) -> tuple[Any, float]:
    started = time.monotonic()
    with service.client() as client:
        response = client.post(
            "/v1/appointments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
    return response, time.monotonic() - started


def _get(service: Service, appointment_id: str) -> dict[str, Any]:
    with service.client() as client:
        body: dict[str, Any] = client.get(f"/v1/appointments/{appointment_id}").json()
        return body


def _outbox(service: Service) -> dict[str, Any]:
    with service.client() as client:
        body: dict[str, Any] = client.get("/v1/admin/outbox").json()
        return body


def test_hung_provider_gets_202_pending_then_the_relay_confirms(
    service: Service, provider: Provider
) -> None:
    provider.set_faults(hang_rate=1.0, hang_s=30.0)
    response, elapsed = _create(service, appointment_body(new_resource()))
    assert response.status_code == 202
    assert response.json()["external_state"] == "PENDING"
    assert response.json()["external_id"] is None
    assert elapsed < WITHIN_DEADLINE_S
    provider.set_faults()  # the provider recovers
    appointment_id = response.json()["id"]
    confirmed = wait_until(
        lambda: (a := _get(service, appointment_id))["external_state"] == "CONFIRMED" and a
    )
    assert [e["id"] for e in provider.events()] == [confirmed["external_id"]]
    assert _outbox(service)["outbox_length"] == 0


def test_outage_opens_the_breaker_and_the_outbox_drains_after(
    reaper: ProcessReaper, provider: Provider, tmp_path: Path, calendar_client: str
) -> None:
    service = _start(reaper, provider, tmp_path, calendar_client)  # its own: trips the breaker
    provider.set_faults(outage=True)
    resource = new_resource()
    answers = [_create(service, appointment_body(resource, slot)) for slot in range(4)]
    assert all(r.status_code == 202 and t < WITHIN_DEADLINE_S for r, t in answers)
    with service.client() as client:
        metrics = client.get("/metrics").text
        assert client.get("/readyz").status_code == 200  # ready: work is kept, not lost
    opened = re.search(r"^circuit_breaker_open_count (\S+)$", metrics, re.MULTILINE)
    assert opened and float(opened.group(1)) >= 1
    # A client cancels one of them during the outage: it must not reach the calendar later.
    ids = [r.json()["id"] for r, _ in answers]
    with service.client() as client:
        cancelled = client.post(
            f"/v1/appointments/{ids[0]}/cancel", headers={"Idempotency-Key": "c"}
        )
    assert cancelled.json()["status"] == "cancelled"
    provider.set_faults()
    wait_until(lambda: all(_get(service, i)["external_state"] == "CONFIRMED" for i in ids))
    assert _get(service, ids[0])["status"] == "cancelled"
    assert sorted(e["id"] for e in provider.events()) == sorted(
        _get(service, i)["external_id"] for i in ids[1:]
    )
    assert _outbox(service) | {"dead_letters": None} == {
        "outbox_length": 0,
        "dead_lettered": 0,
        "breaker": "closed",
        "breaker_open": False,
        "dead_letters": None,
    }


def test_permanent_refusal_fails_the_booking_dead_letters_it_and_frees_the_slot(
    service: Service, provider: Provider
) -> None:
    resource = new_resource()
    provider.set_faults(permanent_error_rate=1.0)
    response, _ = _create(service, appointment_body(resource))
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["external_state"]) == ("failed", "FAILED")
    letters = _outbox(service)["dead_letters"]
    assert [(d["appointment_id"], d["event_type"]) for d in letters] == [
        (response.json()["id"], "create_event")
    ]
    provider.set_faults()
    retry, _ = _create(service, appointment_body(resource))
    assert retry.status_code == 201  # compensation released the slot


def test_permanent_refusal_seen_by_the_relay_compensates_too(
    service: Service, provider: Provider
) -> None:
    provider.set_faults(outage=True)
    response, _ = _create(service, appointment_body(new_resource()))
    assert response.status_code == 202
    provider.set_faults(permanent_error_rate=1.0)
    appointment_id = response.json()["id"]
    failed = wait_until(
        lambda: (a := _get(service, appointment_id))["external_state"] == "FAILED" and a
    )
    assert failed["status"] == "failed"
    assert appointment_id in [d["appointment_id"] for d in _outbox(service)["dead_letters"]]
    assert provider.events() == []
