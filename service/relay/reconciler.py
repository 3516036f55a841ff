"""The reconciler: compares the provider's events with the database, heals orphans, flags drift.

Theory of operation (seed 004). Read the database first, then list the provider's events, so
anything the database shows as settled was settled before the listing. Then ask the database
which of the listed events the service created: an event is the service's when its id or its
idempotency key is an id the service issued (`Transaction.event_owners`: an appointment's id,
the event id it asked for, the provider's id it recorded, a saga's id, an outbox row's event
id). Then:
- an event of the service's that no live appointment claims (not a booked appointment's
  `external_id`, not the target of open outbox work) and older than `reconcile_grace_s` before
  the database read is an orphan: it is deleted (the grace covers creates whose appointment
  committed just before the snapshot);
- an event the service did not create is another client's (a shared calendar): never deleted.
  When it overlaps a booked appointment on its calendar it is reported for review (counted,
  its id listed, a warning logged): which booking is right is a person's call;
- a CONFIRMED, booked appointment whose event is missing and has no open outbox work gets a fresh
  create row (a new event id: the provider may remember the old one as deleted);
- an event whose calendar, start or end differs from its appointment is drift: counted and logged,
  not changed (which side is right is a human's call).

With the provider key off (the legacy profile) the service sends no id and no key: only events
whose provider id it recorded (an appointment's `external_id`, a delete's target) are known as
its own. A duplicate an ambiguous retry left behind carries neither, so it is left alone like any
other client's event and, since it sits on its booking's slot, reported for review.

A pass runs for every tenant (periodic, `python -m service.relay --reconcile-once`) or for one
(`POST /v1/admin/reconcile`, the caller's tenant): then it counts, heals and reports only that
tenant's appointments and events, and the foreign events on its bookings. Written against ports
(`service.ports`): the twin runs the same pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from service.booking.events import event_spec, spec_payload
from service.booking.model import Appointment
from service.ports.context import Ports
from service.ports.store import CREATE_EVENT, OutboxRow
from service.resilience.deadline import Deadline
from service.resilience.lifecycle import AppointmentStatus, ExternalState

log = logging.getLogger("service.reconciler")

_LIST_TIMEOUT_S = 10.0


@dataclass
class ReconcileReport:
    tenant: str | None = None  # whose pass this was; None: every tenant's
    appointments: int = 0
    # The events this pass judged; a tenant's pass: its own, and foreign ones on its bookings.
    provider_events: int = 0
    orphans_found: int = 0
    orphans_deleted: int = 0
    missing_requeued: int = 0
    drift: int = 0
    drift_ids: list[str] = field(default_factory=list)
    foreign_events: int = 0  # events the service did not create: left alone
    foreign_overlapping: int = 0  # of those, the ones overlapping a booking: for review
    foreign_overlapping_ids: list[str] = field(default_factory=list)  # their event ids
    skipped: str | None = None  # why the pass did not run (provider unreachable)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reconciler:
    def __init__(self, ports: Ports) -> None:
        self.rt = ports

    async def run_forever(self) -> None:
        interval = self.rt.settings.reconcile_interval_s
        while True:
            await self.rt.clock.sleep(interval)
            try:
                report = await self.run_once()
                if (
                    report.orphans_found
                    or report.missing_requeued
                    or report.drift
                    or report.foreign_overlapping
                ):
                    log.warning("reconciler healed or flagged", extra={"report": report.as_dict()})
            except Exception:
                log.exception("reconciler pass failed; retrying next interval")

    async def run_once(self, tenant_id: str | None = None) -> ReconcileReport:
        """One pass over every tenant's appointments (`tenant_id` None) or over one tenant's."""
        rt = self.rt
        report = ReconcileReport(tenant=tenant_id)
        async with rt.store.read() as tx:
            snapshot_at = rt.clock.now()
            appointments = await tx.all_appointments()
            open_rows = await tx.all_open_rows()
        try:
            events = await rt.gateway.list_events(_LIST_TIMEOUT_S)
        except Exception as exc:  # the provider is down: nothing to compare with
            report.skipped = f"provider events could not be listed: {type(exc).__name__}"
            return report
        async with rt.store.read() as tx:
            owners = await tx.event_owners(_identities(events))

        def in_scope(tenant: str) -> bool:
            return tenant_id is None or tenant == tenant_id

        report.appointments = sum(1 for a in appointments if in_scope(a.tenant_id))
        live = {
            a.external_id: a
            for a in appointments
            if a.status is AppointmentStatus.BOOKED and a.external_id is not None
        }
        in_flight = _event_ids_with_open_work(open_rows) | {
            a.event_id
            for a in appointments
            if a.external_state is ExternalState.PENDING and a.event_id is not None
        }
        bookings = _bookings_by_calendar(
            a for a in appointments if a.status is AppointmentStatus.BOOKED
        )
        seen: set[str] = set()
        for event in events:
            event_id = str(event.get("id"))
            key = event.get("idempotency_key")
            seen.add(event_id)
            owner = live.get(event_id)
            if owner is not None:
                if in_scope(owner.tenant_id):
                    report.provider_events += 1
                    if _drifted(owner, event):
                        report.drift += 1
                        report.drift_ids.append(owner.id)
                        log.warning(
                            "provider event drifted from its appointment",
                            extra={"event_id": event_id},
                        )
                continue
            tenant = owners.get(event_id) or (owners.get(str(key)) if key is not None else None)
            if tenant is None:
                _judge_foreign(event, event_id, bookings, in_scope, report)
                continue
            if not in_scope(tenant):
                continue
            report.provider_events += 1
            if (
                event_id in in_flight
                or key in in_flight
                or not _older_than(event, snapshot_at - rt.settings.reconcile_grace_s)
            ):
                continue
            report.orphans_found += 1
            result = await rt.gateway.delete_event(
                event_id, f"reconcile-delete-{event_id}", Deadline(rt.clock.now(), 5.0)
            )
            if result.ok:
                report.orphans_deleted += 1
        report.foreign_overlapping_ids.sort()
        busy = {row.appointment_id for row in open_rows}
        for appointment in live.values():
            if (
                in_scope(appointment.tenant_id)
                and appointment.external_id not in seen
                and appointment.id not in busy
            ):
                if await self._requeue_missing(appointment):
                    report.missing_requeued += 1
        return report

    async def _requeue_missing(self, stale: Appointment) -> bool:
        """Queue a fresh create for a confirmed appointment whose event vanished, if it is still
        confirmed with that event and nothing else is pending for it."""
        rt = self.rt
        async with rt.store.write() as tx:
            now = rt.clock.now()
            current = await tx.get_appointment(stale.tenant_id, stale.id, for_update=True)
            if (
                current is None
                or current.state != (AppointmentStatus.BOOKED, ExternalState.CONFIRMED)
                or current.external_id != stale.external_id
                or await tx.open_rows(current.id)
            ):
                return False
            new_event_id = rt.ids.new_id()
            spec = event_spec(current, rt.protections.provider_key, event_id=new_event_id)
            await tx.enqueue(
                tenant_id=current.tenant_id,
                appointment_id=current.id,
                event_type=CREATE_EVENT,
                payload=spec_payload(spec),
                due_at=now,
                now=now,
            )
        log.warning("provider event missing; re-creating it", extra={"event_id": stale.external_id})
        rt.relay_wakeup.set()
        return True


def _judge_foreign(
    event: dict[str, Any],
    event_id: str,
    bookings: dict[str, list[Appointment]],
    in_scope: Callable[[str], bool],
    report: ReconcileReport,
) -> None:
    """Another client's event: left alone; for review when it overlaps a booking in scope."""
    start, end = _parse_time(event.get("start")), _parse_time(event.get("end"))
    overlapped = [
        a.id
        for a in bookings.get(str(event.get("calendar_id")), ())
        if in_scope(a.tenant_id)
        and start is not None
        and end is not None
        and a.start_time < end
        and start < a.end_time
    ]
    if report.tenant is not None and not overlapped:
        return  # another client's event on no booking of this tenant: not its business
    report.provider_events += 1
    report.foreign_events += 1
    if overlapped:
        report.foreign_overlapping += 1
        report.foreign_overlapping_ids.append(event_id)
        log.warning(
            "a provider event the service did not create overlaps a booking; left alone for review",
            extra={
                "event_id": event_id,
                "calendar_id": event.get("calendar_id"),
                "appointment_ids": sorted(overlapped),
            },
        )


def _identities(events: Sequence[dict[str, Any]]) -> list[str]:
    """The ids and idempotency keys of the listed events: what may name one the service issued
    (a provider that ignores client ids keeps the key the service sent)."""
    found: set[str] = set()
    for event in events:
        found.add(str(event.get("id")))
        key = event.get("idempotency_key")
        if key is not None:
            found.add(str(key))
    return sorted(found)


def _bookings_by_calendar(appointments: Iterable[Appointment]) -> dict[str, list[Appointment]]:
    by_calendar: dict[str, list[Appointment]] = {}
    for appointment in appointments:
        by_calendar.setdefault(appointment.resource_id, []).append(appointment)
    return by_calendar


def _event_ids_with_open_work(rows: Iterable[OutboxRow]) -> set[str]:
    ids: set[str] = set()
    for row in rows:
        payload = row.payload.get("spec", row.payload)
        if payload.get("event_id"):
            ids.add(str(payload["event_id"]))
    return ids


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    with contextlib.suppress(ValueError):
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    return None


def _older_than(event: dict[str, Any], cutoff: float) -> bool:
    created = _parse_time(event.get("created_at"))
    return created is None or created.timestamp() <= cutoff


def _drifted(appointment: Appointment, event: dict[str, Any]) -> bool:
    return (
        event.get("calendar_id") != appointment.resource_id
        or _parse_time(event.get("start")) != appointment.start_time
        or _parse_time(event.get("end")) != appointment.end_time
    )
