"""Tenants on one service (issue 16, items 6 and 7), on SQLite and PostgreSQL.

A resource is one provider calendar, shared by every tenant: a slot of it is booked once,
whichever tenant asks first (it was once per tenant: two events at one time on one calendar).
Admin answers speak of the caller's tenant only (they gave every tenant's counts).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
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
    """Starts this test's service (`api_keys`, settings in `env`); stops it before `db_url`
    drops its database."""
    with contextlib.closing(ProcessReaper()) as reaper:

        def started(api_keys: dict[str, str] | None = API_KEYS, **env: str) -> Service:
            return start_service(
                reaper,
                db_url=db_url,
                calendar_url=provider.url,
                log_path=tmp_path / "service.log",
                api_keys=api_keys,
                env=env,
            )

        yield started


def _create(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/appointments", json=body, headers={"Idempotency-Key": _key()})


def _key() -> str:
    return f"k-{uuid.uuid4().hex}"


def _shifted(body: dict[str, Any], minutes: int) -> dict[str, Any]:
    def moved(text: str) -> str:
        at = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) + dt.timedelta(minutes=minutes)
        return at.isoformat().replace("+00:00", "Z")

    slot = body["slot"]
    return body | {"slot": {k: moved(v) for k, v in slot.items()}}


def test_a_resource_slot_is_booked_once_whichever_tenant_asks(
    start: Callable[..., Service], provider: Provider
) -> None:
    service = start()
    resource = new_resource()
    with service.client(ALPHA) as alpha, service.client(BETA) as beta:
        first = _create(alpha, appointment_body(resource, 0))
        assert first.status_code == 201, first.text
        same = _create(beta, appointment_body(resource, 0))
        assert (same.status_code, same.json()["error"]) == (409, "slot_taken")
        overlapping = _create(beta, _shifted(appointment_body(resource, 0), 15))
        assert overlapping.status_code == 409
        theirs = _create(beta, appointment_body(resource, 1))
        assert theirs.status_code == 201, theirs.text
        moved_onto = beta.post(
            f"/v1/appointments/{theirs.json()['id']}/reschedule",
            json={"slot": appointment_body(resource, 0)["slot"]},
            headers={"Idempotency-Key": _key()},
        )
        assert (moved_onto.status_code, moved_onto.json()["error"]) == (409, "slot_taken")
        listed = beta.get("/v1/appointments", params={"resource_id": resource}).json()["items"]
        # The 409 says the slot is busy, nothing about whose: beta still sees only its own.
        assert [a["id"] for a in listed] == [theirs.json()["id"]]
    on_calendar = [e for e in provider.events() if e["calendar_id"] == resource]
    assert sorted(e["id"] for e in on_calendar) == sorted(
        [first.json()["external_id"], theirs.json()["external_id"]]
    )


def test_tenants_racing_for_one_slot_get_one_booking_and_one_event(
    start: Callable[..., Service], provider: Provider
) -> None:
    service = start()
    resource = new_resource()
    body = appointment_body(resource, 5)
    keys = [ALPHA, BETA] * 6

    def race(api_key: str) -> int:
        with service.client(api_key) as client:
            return _create(client, body | {"customer_id": str(uuid.uuid4())}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(keys)) as pool:
        statuses = sorted(pool.map(race, keys))
    # One winner (201, or 202 when the race's load outlasts its deadline: the relay confirms).
    assert statuses[1:] == [409] * (len(keys) - 1) and statuses[0] in (201, 202)

    def on_calendar() -> list[dict[str, Any]]:
        return [e for e in provider.events() if e["calendar_id"] == resource]

    wait_until(on_calendar)
    time.sleep(0.5)  # a second event, were there one, would be there by now too
    assert len(on_calendar()) == 1


def test_admin_answers_speak_of_the_callers_tenant_only(
    start: Callable[..., Service], provider: Provider
) -> None:
    """Beta has a dead letter and a backlog row, alpha neither: alpha's outbox view was beta's
    counts, and alpha's reconcile counted beta's appointments."""
    # Beta's backlog row stays due meanwhile; a long deadline so alpha's create confirms inline
    # even on a busy machine (a PENDING one would leave alpha a backlog row of its own).
    service = start(REHEARSAL_OUTBOX_SCHEDULE_S="30", REHEARSAL_DEADLINE_MS="5000")
    with service.client(ALPHA) as alpha, service.client(BETA) as beta:
        assert _create(alpha, appointment_body(new_resource())).status_code == 201
        provider.set_faults(permanent_error_rate=1.0)
        failed = _create(beta, appointment_body(new_resource()))
        assert failed.json()["external_state"] == "FAILED"
        provider.set_faults(outage=True)
        pending = _create(beta, appointment_body(new_resource()))
        assert pending.json()["external_state"] == "PENDING"
        provider.set_faults()
        alphas, betas = alpha.get("/v1/admin/outbox").json(), beta.get("/v1/admin/outbox").json()
        assert (alphas["outbox_length"], alphas["dead_lettered"], alphas["dead_letters"]) == (
            0,
            0,
            [],
        )
        assert (betas["outbox_length"], betas["dead_lettered"]) == (1, 1)
        assert [d["appointment_id"] for d in betas["dead_letters"]] == [failed.json()["id"]]
        assert alpha.post("/v1/admin/reconcile").json()["appointments"] == 1
        assert beta.post("/v1/admin/reconcile").json()["appointments"] == 2


def test_with_no_api_keys_the_default_tenant_sees_every_row(
    start: Callable[..., Service], provider: Provider
) -> None:
    """The scenario runner's case: no keys configured, one tenant, the whole outbox."""
    service = start(api_keys=None)
    with service.client() as client:
        provider.set_faults(permanent_error_rate=1.0)
        failed = _create(client, appointment_body(new_resource()))
        provider.set_faults()
        assert failed.json()["external_state"] == "FAILED"
        assert client.get("/v1/admin/outbox").json()["dead_lettered"] == 1
        assert client.post("/v1/admin/reconcile").json()["tenant"] == "default"
