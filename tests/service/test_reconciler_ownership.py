"""Whose events the reconciler may delete (issue 16, item 5) and whose it reports (item 7).

One pass at a time, on the in-memory store (the store contract suite holds SQLite and
PostgreSQL to the same `event_owners` answers) and a provider that lists a fixed calendar and
records deletes. An event is the service's when its id or its key is an id the service issued;
every other event is another client's: never deleted, reported when it overlaps a booking.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
from typing import Any

from service.asyncio_ports import AsyncioTasks, AsyncioWakeup
from service.booking.model import Appointment
from service.calendar.contract import CallResult, EventSpec
from service.calendar.gateway import CalendarGateway
from service.crash_points import CrashPoints
from service.policies import Policies
from service.ports.context import Ports
from service.ports.store import CREATE_EVENT
from service.relay.reconciler import Reconciler, ReconcileReport
from service.resilience.lifecycle import AppointmentStatus, ExternalState
from service.resilience.outcomes import Outcome, OutcomeKind
from service.settings import Protections, Settings
from sim.memory_store import MemoryStore
from sim.sim_ports import SeededIds, TwinCounters

NOW = 2_000_000_000.0
T0 = dt.datetime(2031, 7, 1, 9, 0, tzinfo=dt.UTC)
LONG_AGO = NOW - 3600  # far past the grace


class FixedClock:
    def now(self) -> float:
        return NOW

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


class ListedCalendar:
    """A provider holding `events`; deletes succeed and are recorded."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = {e["id"]: e for e in events}
        self.deleted: list[str] = []

    async def create_event(self, spec: EventSpec, timeout_s: float) -> CallResult:
        raise AssertionError("a reconcile pass creates nothing itself (it queues a create)")

    async def delete_event(self, event_id: str, key: str | None, timeout_s: float) -> CallResult:
        self.deleted.append(event_id)
        self.events.pop(event_id, None)
        return CallResult(Outcome(OutcomeKind.OK, NOW, None, ""), 204)

    async def list_events(self, timeout_s: float) -> list[dict[str, Any]]:
        return list(self.events.values())

    async def aclose(self) -> None:
        return None


def booking(
    appointment_id: str,
    tenant: str = "t1",
    resource: str = "r1",
    start_min: int = 0,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
    external_id: str | None = "same",
    event_id: str | None = "same",
) -> Appointment:
    """An appointment of 30 minutes; `"same"` ids stand for the appointment's own id."""
    return Appointment(
        id=appointment_id,
        tenant_id=tenant,
        resource_id=resource,
        customer_id="0b1c3a57-7f3e-4c59-9a8e-2f2d8f0c6b11",
        start_time=T0 + dt.timedelta(minutes=start_min),
        end_time=T0 + dt.timedelta(minutes=start_min + 30),
        service_type="pickup",
        title=None,
        location=None,
        owner_name=None,
        owner_email=None,
        metadata=None,
        status=status,
        external_state=ExternalState.CONFIRMED,
        external_id=appointment_id if external_id == "same" else external_id,
        event_id=appointment_id if event_id == "same" else event_id,
        version=1,
        created_at=LONG_AGO,
        updated_at=LONG_AGO,
    )


def event(
    event_id: str,
    calendar: str = "r1",
    start_min: int = 0,
    minutes: int = 30,
    key: str | None = None,
) -> dict[str, Any]:
    """An event as the provider lists it, created long ago."""
    start = T0 + dt.timedelta(minutes=start_min)
    return {
        "id": event_id,
        "calendar_id": calendar,
        "start": start.isoformat().replace("+00:00", "Z"),
        "end": (start + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "idempotency_key": key,
        "created_at": dt.datetime.fromtimestamp(LONG_AGO, dt.UTC).isoformat(),
    }


def reconcile(
    appointments: list[Appointment],
    events: list[dict[str, Any]],
    tenant: str | None = None,
    protections: Protections | None = None,
) -> tuple[ReconcileReport, ListedCalendar, MemoryStore]:
    settings = Settings(reconcile_grace_s=1.0)
    if protections is not None:
        settings = dataclasses.replace(settings, protections=protections)
    calendar = ListedCalendar(events)
    store = MemoryStore()
    clock = FixedClock()
    counters = TwinCounters()
    rng = random.Random(3)
    policies = Policies.from_settings(settings)

    async def main() -> ReconcileReport:
        async with store.write() as tx:
            for appointment in appointments:
                await tx.insert_appointment(appointment)
        ports = Ports(
            settings=settings,
            policies=policies,
            clock=clock,
            rng=rng,
            store=store,
            gateway=CalendarGateway(calendar, clock, rng, policies.retry, None, counters),
            breaker=None,
            crash=CrashPoints(None),
            ids=SeededIds(random.Random(5)),
            metrics=counters,
            relay_wakeup=AsyncioWakeup(),
            tasks=AsyncioTasks(),
        )
        return await Reconciler(ports).run_once(tenant)

    return asyncio.run(main()), calendar, store


def test_only_the_services_own_orphans_are_deleted_another_clients_events_never() -> None:
    live = booking("appt-live")
    cancelled = booking("appt-cancelled", start_min=60, status=AppointmentStatus.CANCELLED)
    report, calendar, _ = reconcile(
        [live, cancelled],
        [
            event("appt-live"),  # the live booking's event
            event("appt-cancelled", start_min=60, key="appt-cancelled"),  # its own orphan
            # A provider that ignored the client id: its own id, the service's key.
            event("provider-made-7", key="appt-live"),
            event("theirs-on-the-booking", start_min=15),  # another client's, on the booking
            event("theirs-later", start_min=240, key="their-key"),  # another client's, elsewhere
            event("theirs-own-calendar", calendar="r9"),
        ],
    )
    assert sorted(calendar.deleted) == ["appt-cancelled", "provider-made-7"]
    assert {"theirs-on-the-booking", "theirs-later", "theirs-own-calendar"} <= set(calendar.events)
    assert (report.orphans_found, report.orphans_deleted) == (2, 2)
    assert (report.foreign_events, report.foreign_overlapping) == (3, 1)
    assert report.foreign_overlapping_ids == ["theirs-on-the-booking"]
    assert (report.appointments, report.provider_events) == (2, 6)


def test_a_cancelled_bookings_slot_is_nobodys_review() -> None:
    cancelled = booking("appt-cancelled", status=AppointmentStatus.CANCELLED)
    report, calendar, _ = reconcile([cancelled], [event("theirs", start_min=10)])
    assert calendar.deleted == []
    assert (report.foreign_events, report.foreign_overlapping) == (1, 0)


def test_legacy_no_key_sent_recorded_ids_are_known_duplicates_are_left_for_review() -> None:
    """The legacy profile sends neither id nor key: the provider picks the id and the service
    records it. A recorded id is the service's; a duplicate an ambiguous retry left carries
    nothing the service knows, so it stays and, sitting on its booking's slot, is reported."""
    live = booking("appt-1", external_id="prov-1", event_id=None)
    gone = booking(
        "appt-2",
        start_min=60,
        status=AppointmentStatus.CANCELLED,
        external_id="prov-2",
        event_id=None,
    )
    report, calendar, _ = reconcile(
        [live, gone],
        [event("prov-1"), event("prov-9"), event("prov-2", start_min=60)],
        protections=Protections.legacy(),
    )
    assert calendar.deleted == ["prov-2"]
    assert report.foreign_overlapping_ids == ["prov-9"]
    assert "prov-9" in calendar.events


def test_a_tenants_pass_heals_and_reports_its_own_only() -> None:
    """`POST /v1/admin/reconcile` runs the pass for the caller's tenant: another tenant's
    orphans, missing events, foreign overlaps and counts are neither touched nor shown."""
    appointments = [
        booking("t1-live", tenant="t1", resource="r1"),
        booking("t1-missing", tenant="t1", resource="r1", start_min=60),
        booking(
            "t1-gone", tenant="t1", resource="r1", start_min=120, status=AppointmentStatus.CANCELLED
        ),  # fmt: skip
        booking("t2-live", tenant="t2", resource="r2"),
        booking("t2-missing", tenant="t2", resource="r2", start_min=60),
        booking(
            "t2-gone", tenant="t2", resource="r2", start_min=120, status=AppointmentStatus.CANCELLED
        ),  # fmt: skip
    ]
    events = [
        event("t1-live"),
        event("t1-gone", start_min=120, key="t1-gone"),
        event("theirs-on-t1", start_min=5),
        event("t2-live", calendar="r2"),
        event("t2-gone", calendar="r2", start_min=120, key="t2-gone"),
        event("theirs-on-t2", calendar="r2", start_min=5),
        event("theirs-nowhere", calendar="r9"),
    ]
    report, calendar, store = reconcile(appointments, events, tenant="t1")
    assert calendar.deleted == ["t1-gone"]
    assert report.as_dict() == {
        "tenant": "t1",
        "appointments": 3,
        "provider_events": 3,  # its live and orphaned events, the foreign one on its booking
        "orphans_found": 1,
        "orphans_deleted": 1,
        "missing_requeued": 1,
        "drift": 0,
        "drift_ids": [],
        "foreign_events": 1,
        "foreign_overlapping": 1,
        "foreign_overlapping_ids": ["theirs-on-t1"],
        "skipped": None,
    }
    requeued = [row for row in store.outbox.values() if row.event_type == CREATE_EVENT]
    assert [row.appointment_id for row in requeued] == ["t1-missing"]

    everyone, calendar, _ = reconcile(appointments, events)
    assert sorted(calendar.deleted) == ["t1-gone", "t2-gone"]
    assert everyone.tenant is None and everyone.appointments == 6
    assert everyone.missing_requeued == 2 and everyone.foreign_events == 3
    assert everyone.foreign_overlapping_ids == ["theirs-on-t1", "theirs-on-t2"]
